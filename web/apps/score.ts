/**
 * Live score: the same cricket match by long polling and by short polling, side by side,
 * with the HTTP requests each one makes. Long polling answers as soon as a ball is bowled,
 * one request per answer; short polling asks every 2 s, news or not.
 */
import { Tidings, type Message, type TransportName } from '/client.js';
import { byId } from '../shared/dom.js';
import { Meter } from '../shared/meter.js';
import { ServerBanner } from '../shared/server-banner.js';

interface Score {
  batting: string;
  bowling: string;
  runs: number;
  wickets: number;
  overs: string;
  last: string;
  target?: number;
  result?: string;
}

const banner = new ServerBanner(byId('banner'));

function follow(transport: TransportName, prefix: string): Meter {
  // The meter wraps fetch to count requests; a plain app would leave `fetch` out.
  const meter = new Meter();
  const client = new Tidings(location.origin, { transports: [transport], shortPollInterval: 2000, fetch: meter.fetch });
  banner.watch(client);
  const field = (name: string) => byId(`${prefix}-${name}`);
  client.on('state', (s) => {
    field('state').dataset.state = s.state;
    field('state').textContent = s.state === 'reconnecting' ? 'reconnecting…' : s.state;
  });
  let seen = 0;
  client.subscribe('demo:score', (m: Message) => {
    const s = m.data as Score;
    byId('score-empty').hidden = true;
    field('teams').textContent = `${s.batting} v ${s.bowling}`;
    field('runs').textContent = `${s.runs}/${s.wickets}`;
    field('overs').textContent = s.overs;
    field('last').textContent = s.last === 'W' ? 'wicket' : s.last === 'wd' ? 'wide' : s.last === '' ? '–' : `${s.last} run${s.last === '1' ? '' : 's'}`;
    field('status').textContent = s.result ?? (s.target !== undefined ? `needs ${s.target - s.runs} to win` : 'first innings');
    // The first message is the last ball before the page opened: only live ones say how fast.
    if (seen++ > 0) field('latency').textContent = `${Math.max(0, Date.now() - m.time)} ms`;
  }, { last: 1 });
  return meter;
}

const meters = { long: follow('long-poll', 'long'), short: follow('short-poll', 'short') };
setInterval(() => {
  for (const [prefix, meter] of Object.entries(meters)) {
    byId(`${prefix}-requests`).textContent = String(meter.requests);
    byId(`${prefix}-empty`).textContent = String(meter.emptyAnswers);
  }
}, 250);
