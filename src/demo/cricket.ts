import type { PublishRequest } from '../hub/hub.js';
import { pick, seededRandom, type Random } from '../core/seeded-random.js';
import { seedOf, type DemoStream } from './stream.js';

/** The whole score after each ball, so a page that joins late needs only the last message. */
export interface Score {
  match: number;
  innings: 1 | 2;
  batting: string;
  bowling: string;
  runs: number;
  wickets: number;
  /** Legal balls bowled this innings; overs are `${Math.floor(balls / 6)}.${balls % 6}`. */
  balls: number;
  overs: string;
  /** What the last ball was: '0'…'6', 'W' (wicket) or 'wd' (wide: a run, and bowled again). */
  last: string;
  /** Runs needed to win in the second innings. */
  target?: number;
  /** Set on the ball that ends the match. */
  result?: string;
}

const TEAMS = ['Mumbai', 'Chennai', 'Kolkata', 'Bengaluru', 'Delhi', 'Punjab'];
// Weighted outcomes of a T20 ball: dots and singles most, boundaries sometimes.
const OUTCOMES = ['0', '0', '0', '1', '1', '1', '1', '2', '2', '3', '4', '4', '6', 'W', 'wd'];
const OVERS = 20;
const TICKS_PER_BALL = 6;
/** Ball slots between a result and the next match's first ball. */
const BREAK_SLOTS = 6;
/** Matches follow each other from the start of a block of this many ball slots (a day at 1.5 s a ball). */
const BLOCK_SLOTS = 57_600;

/** One match played ball by ball from a seed: the same seed, the same match. */
class Match {
  score: Score;

  constructor(match: number, private readonly random: Random) {
    const home = pick(random, TEAMS);
    const away = pick(random, TEAMS.filter((t) => t !== home));
    this.score = { match, innings: 1, batting: home, bowling: away, runs: 0, wickets: 0, balls: 0, overs: '0.0', last: '' };
  }

  bowl(): void {
    const s = this.score;
    if (s.innings === 1 && (s.wickets === 10 || s.balls === OVERS * 6)) {
      this.score = { match: s.match, innings: 2, batting: s.bowling, bowling: s.batting, runs: 0, wickets: 0, balls: 0, overs: '0.0', last: '', target: s.runs + 1 };
    }
    const now = this.score;
    const ball = pick(this.random, OUTCOMES);
    now.last = ball;
    if (ball === 'wd') now.runs += 1;
    else {
      now.balls++;
      if (ball === 'W') now.wickets++;
      else now.runs += Number(ball);
    }
    now.overs = `${Math.floor(now.balls / 6)}.${now.balls % 6}`;
    if (now.innings === 2 && now.target !== undefined) {
      if (now.runs >= now.target) now.result = `${now.batting} won by ${10 - now.wickets} wickets`;
      else if (now.wickets === 10 || now.balls === OVERS * 6) {
        now.result = now.runs === now.target - 1 ? 'Match tied' : `${now.bowling} won by ${now.target - 1 - now.runs} runs`;
      }
    }
  }
}

/**
 * T20 cricket on `demo:score` (event `ball`): a ball every TICKS_PER_BALL ticks. Matches follow
 * each other back to back, with a short break, from the start of each block of ball slots;
 * match `n` of block `b` is played from a seed of both. The state at a slot is found by
 * playing on from the block's start (once, then ball by ball), so it depends on the slot alone.
 */
export class CricketStream implements DemoStream {
  readonly channel = 'demo:score';
  private state: { block: number; slot: number; number: number; match: Match; breakLeft: number } | undefined;

  at(t: number): PublishRequest | undefined {
    if (t % TICKS_PER_BALL !== 0) return undefined;
    const ball = t / TICKS_PER_BALL;
    const block = Math.floor(ball / BLOCK_SLOTS);
    const slot = ball - block * BLOCK_SLOTS;
    if (this.state === undefined || this.state.block !== block || this.state.slot >= slot) {
      this.state = { block, slot: -1, number: 0, match: this.newMatch(block, 0), breakLeft: 0 };
    }
    const st = this.state;
    let bowled = false;
    while (st.slot < slot) {
      st.slot++;
      bowled = false;
      if (st.breakLeft > 0) {
        st.breakLeft--;
        continue;
      }
      if (st.match.score.result !== undefined) {
        st.number++;
        st.match = this.newMatch(block, st.number);
      }
      st.match.bowl();
      bowled = true;
      if (st.match.score.result !== undefined) st.breakLeft = BREAK_SLOTS;
    }
    return bowled ? { channel: this.channel, event: 'ball', data: { ...st.match.score } } : undefined;
  }

  private newMatch(block: number, number: number): Match {
    return new Match(number + 1, seededRandom(seedOf(0xc1c ^ number, block)));
  }
}
