import { TidingsError } from './errors.js';
import { Message } from './message.js';

/**
 * docs/protocol.md § Compact envelope. A client that asks with `envelope=compact` gets each
 * message as `{"offset":…,"event"?:…,"data":…}`, with `channel` only where the stream
 * carries more than one channel. `epoch` comes with what changes it (the `subscribed`
 * frame, a gap notice) and inside every cursor; `time` is left out. Resuming is by cursor
 * as before, so every guarantee holds. The full envelope stays the default.
 */
export type EnvelopeForm = 'full' | 'compact';

/** The `envelope=` query parameter: absent or `full`, or `compact`. */
export function parseEnvelopeForm(raw: string | null | undefined): EnvelopeForm {
  if (raw === null || raw === undefined || raw === '' || raw === 'full') return 'full';
  if (raw === 'compact') return 'compact';
  throw new TidingsError('invalid_parameter', `envelope=${raw.slice(0, 20)} is invalid: use full (the default) or compact.`);
}

const COMPACT = Symbol('compact');
const COMPACT_WITH_CHANNEL = Symbol('compact-with-channel');

/** The compact fields as JSON members without braces, made once per message and form. */
export function compactMembers(m: Message, withChannel: boolean): string {
  return m.framed(withChannel ? COMPACT_WITH_CHANNEL : COMPACT, (x) => {
    const channel = withChannel ? `"channel":${JSON.stringify(x.channel)},` : '';
    return `${channel}"offset":${x.offset}${Message.eventAndData(x)}`;
  });
}

/** The message as the client asked for it: the full envelope, or compact (with its channel when the stream has several). */
export function envelopeJson(m: Message, form: EnvelopeForm, withChannel: boolean): string {
  return form === 'full' ? m.json : `{${compactMembers(m, withChannel)}}`;
}
