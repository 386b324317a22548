import { TidingsError } from './errors.js';

/** docs/protocol.md § Model: 1 to 200 characters of `A-Z a-z 0-9 _ - . : @ /`. */
const CHANNEL_NAME = /^[A-Za-z0-9_\-.:@/]{1,200}$/;

export function isChannelName(name: unknown): name is string {
  return typeof name === 'string' && CHANNEL_NAME.test(name);
}

export function assertChannelName(name: unknown): string {
  if (isChannelName(name)) return name;
  const shown = typeof name === 'string' ? JSON.stringify(name.length > 60 ? name.slice(0, 60) + '…' : name) : String(name);
  throw new TidingsError(
    'invalid_channel',
    `Channel name ${shown} is invalid: use 1 to 200 characters of A-Z a-z 0-9 _ - . : @ /.`,
  );
}
