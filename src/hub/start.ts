import type { Position } from '../core/cursor.js';
import type { ChannelState } from '../engines/engine.js';

/** Where a subscription begins: docs/protocol.md § Subscribing. */
export type StartAt =
  | { kind: 'now' }
  | { kind: 'last'; count: number }
  | { kind: 'after'; position: Position };

/**
 * The position a start means, given the channel's state read once the reader is on the
 * live feed. The one place `now`, `last=N` and a cursor are turned into a position, for
 * polls and subscriptions alike.
 */
export function startPosition(start: StartAt, state: ChannelState): Position {
  switch (start.kind) {
    case 'after':
      return { ...start.position };
    case 'last':
      return { epoch: state.epoch, offset: Math.max(state.first - 1, state.last - start.count) };
    case 'now':
      return { epoch: state.epoch, offset: state.last };
  }
}
