import type { PublishRequest } from '../hub/hub.js';
import { seededRandom } from '../core/seeded-random.js';
import { seedOf, type DemoStream } from './stream.js';

export interface Tick {
  sym: string;
  px: number;
  /** The symbol's price at its previous tick, so a page can colour the move without history. */
  prev: number;
}

const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'HOOLI', 'UMBRELLA', 'STARK'];
const OPENING = [42.5, 118.2, 9.87, 301.4, 64.05, 212.9];

/** The price of symbol `i` at tick `t`: a slow and a faster wave around its opening price, plus seeded noise. */
export function priceAt(i: number, t: number): number {
  const phase = i * 1.7;
  const noise = seededRandom(seedOf(0x71c + i, t))() - 0.5;
  const factor = 1 + 0.04 * Math.sin(t / 240 + phase) + 0.015 * Math.sin(t / 37 + 2 * phase) + 0.003 * noise;
  return Math.round(OPENING[i]! * factor * 100) / 100;
}

/** Stock prices on `demo:ticker` (event `tick`): the symbols take turns, one a tick. */
export class TickerStream implements DemoStream {
  readonly channel = 'demo:ticker';

  at(t: number): PublishRequest {
    const i = t % SYMBOLS.length;
    const data: Tick = { sym: SYMBOLS[i]!, px: priceAt(i, t), prev: priceAt(i, t - SYMBOLS.length) };
    return { channel: this.channel, event: 'tick', data };
  }
}
