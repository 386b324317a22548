import { TidingsError } from './errors.js';

/**
 * Deepest nesting of arrays and objects a message may have. JSON.parse takes any depth,
 * but JSON.stringify recurses and throws past a few thousand levels, so a body like
 * `[[[[…]]]]` that fits in 64 KiB was parsed, then failed as a 500 when the envelope was
 * serialised (found by `npm run storm`). Ruby's JSON has the same default of 100.
 */
export const MAX_JSON_DEPTH = 100;

/**
 * Throws `invalid_json` when `text` nests arrays and objects deeper than MAX_JSON_DEPTH.
 * One pass over the text, before parsing it: brackets inside strings don't count.
 */
export function assertJsonDepth(text: string, what: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) throw new TidingsError('invalid_json', `${what} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels.`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}
