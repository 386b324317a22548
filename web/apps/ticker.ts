/**
 * Stock ticker: Server-Sent Events, one way. Each tick `{sym, px, prev}` updates a row,
 * green and ▲ when the price rose, red and ▼ when it fell. The demo feed (`--demo`,
 * on with `npm start`) publishes the prices on `demo:ticker`.
 */
import { Tidings, type Message } from '/client.js';
import { byId, el } from '../shared/dom.js';
import { ServerBanner } from '../shared/server-banner.js';

interface Tick {
  sym: string;
  px: number;
  prev: number;
}

const client = new Tidings(location.origin, { transports: ['sse'] });
new ServerBanner(byId('banner')).watch(client);

const body = byId<HTMLTableSectionElement>('ticker-rows');
const pill = byId('ticker-state');
const rows = new Map<string, { row: HTMLTableRowElement; px: HTMLElement; change: HTMLElement; open: number }>();

client.on('state', (s) => {
  pill.dataset.state = s.state;
  pill.textContent = s.state === 'reconnecting' ? 'reconnecting…' : s.state;
});

// The last 30 ticks fill the table at once; then every tick as it happens.
client.subscribe('demo:ticker', (m: Message) => {
  const tick = m.data as Tick;
  if (typeof tick?.sym !== 'string' || typeof tick.px !== 'number') return;
  byId('ticker-empty').hidden = true;
  let entry = rows.get(tick.sym);
  if (entry === undefined) {
    const px = el('td');
    const change = el('td');
    const row = el('tr', { 'data-sym': tick.sym }, el('th', { scope: 'row' }, tick.sym), px, change);
    entry = { row, px, change, open: tick.prev };
    rows.set(tick.sym, entry);
    body.append(...[...rows.values()].sort((a, b) => a.row.dataset.sym!.localeCompare(b.row.dataset.sym!)).map((r) => r.row));
  }
  const direction = tick.px > tick.prev ? 'up' : tick.px < tick.prev ? 'down' : '';
  const sinceOpen = ((tick.px - entry.open) / entry.open) * 100;
  entry.px.textContent = `${direction === 'up' ? '▲' : direction === 'down' ? '▼' : ''} ${tick.px.toFixed(2)}`;
  entry.px.className = direction;
  entry.change.textContent = `${sinceOpen >= 0 ? '+' : ''}${sinceOpen.toFixed(2)} %`;
  entry.change.className = sinceOpen > 0 ? 'up' : sinceOpen < 0 ? 'down' : '';
  entry.row.classList.remove('flash');
  void entry.row.offsetWidth; // restart the flash animation
  entry.row.classList.add('flash');
}, { last: 30 });
