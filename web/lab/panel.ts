import { Tidings, type Message, type StateChange, type Subscription, type TransportName } from '/client.js';
import { el } from '../shared/dom.js';
import { Meter } from '../shared/meter.js';
import type { ServerBanner } from '../shared/server-banner.js';
import { LiveChart } from './chart.js';
import { Latencies, PerSecond, SequenceCheck } from './stats.js';
import { TRANSPORT_INFO } from './transport-info.js';

/** One transport's live view: its own client, forced to that transport, metered. */
export class TransportPanel {
  readonly element: HTMLElement;
  private readonly meter = new Meter();
  private readonly latencies = new Latencies();
  private readonly sequence = new SequenceCheck();
  private readonly received = new PerSecond();
  private readonly requests = new PerSecond();
  private readonly chart: LiveChart;
  private readonly fields: Record<'received' | 'requests' | 'empty' | 'bytes' | 'latency' | 'anomalies' | 'state' | 'last', HTMLElement>;
  private client: Tidings | undefined;
  private sub: Subscription | undefined;
  private count = 0;
  private gaps = 0;
  private drops = 0;
  private lastRequests = 0;
  private shortPollInterval = 1000;
  /** The last message, shown with the counts so both describe the same moment. */
  private lastText = 'No message yet.';

  constructor(
    readonly transport: TransportName,
    private readonly channel: string,
    private readonly banner: ServerBanner,
  ) {
    const info = TRANSPORT_INFO[transport];
    const id = `panel-${transport}`;
    const metric = (name: string, label: string, initial = '0') => {
      const dd = el('dd', { 'data-metric': name }, initial);
      return { row: el('div', {}, el('dt', {}, label), dd), dd };
    };
    const received = metric('received', 'Received');
    const requests = metric('requests', 'HTTP requests');
    const empty = metric('empty', 'Empty answers', info.polls ? '0' : 'none (pushed)');
    const bytes = metric('bytes', 'Bytes on the wire', '0 B');
    const latency = metric('latency', 'Latency p50 / p99', '– / –');
    const anomalies = metric('anomalies', 'Repeats / holes', '0 / 0');
    // Announced: after "Drop connection" a keyboard or screen-reader user hears it come back.
    const state = el('span', { class: 'state', 'data-state-label': true, 'aria-live': 'polite' }, 'connecting…');
    const last = el('p', { class: 'last', 'aria-live': 'off' }, 'No message yet.');
    const canvas = el('canvas', { role: 'img', 'aria-label': `${info.title}: messages (bars) and HTTP requests (line) per second over the last 30 seconds` });
    const drop = el('button', { type: 'button', class: 'drop' }, 'Drop connection');
    drop.addEventListener('click', () => this.drop());
    let interval: HTMLElement | undefined;
    if (transport === 'short-poll') {
      const select = el('select', { id: 'short-poll-interval' });
      for (const ms of [250, 500, 1000, 2000, 5000]) select.append(el('option', { value: String(ms), selected: ms === this.shortPollInterval }, ms < 1000 ? `${ms} ms` : `${ms / 1000} s`));
      select.addEventListener('change', () => this.restart(Number(select.value)));
      interval = el('p', { class: 'interval' }, el('label', { for: 'short-poll-interval' }, 'Poll every '), select);
    }
    this.element = el(
      'article',
      { class: 'panel', 'data-transport': transport, 'data-state': 'connecting', 'aria-labelledby': id },
      el('header', {}, el('h2', { id }, info.title), state),
      el('p', { class: 'endpoint' }, el('code', {}, info.endpoint)),
      interval,
      el('dl', { class: 'metrics' }, received.row, requests.row, empty.row, bytes.row, latency.row, anomalies.row),
      canvas,
      el('p', { class: 'legend', 'aria-hidden': 'true' }, el('span', { class: 'swatch bars' }), 'messages/s ', el('span', { class: 'swatch line' }), 'HTTP requests/s'),
      last,
      drop,
      el('p', { class: 'advice' }, info.advice),
    );
    this.fields = { received: received.dd, requests: requests.dd, empty: empty.dd, bytes: bytes.dd, latency: latency.dd, anomalies: anomalies.dd, state, last };
    this.chart = new LiveChart(canvas, [
      { label: 'messages', data: this.received, color: '#1f6feb', style: 'bars' },
      { label: 'requests', data: this.requests, color: '#b35900', style: 'line' },
    ]);
  }

  start(cursor?: string): void {
    const client = new Tidings(location.origin, {
      transports: [this.transport],
      shortPollInterval: this.shortPollInterval,
      fetch: this.meter.fetch,
      WebSocket: this.meter.WebSocket,
    });
    this.client = client;
    this.banner.watch(client);
    // A client replaced by restart() may still report its closing: only the current one speaks.
    client.on('state', (s) => client === this.client && this.state(s));
    client.on('gap', () => client === this.client && this.gaps++);
    // A refused subscription (a bad token, a channel outside its grants) ends it: say why.
    client.on('error', (e) => client === this.client && (this.lastText = `Error: ${e.message}`));
    this.sub = client.subscribe(this.channel, (m) => client === this.client && this.message(m), cursor === undefined ? {} : { cursor });
  }

  /** The short poll interval is a client option: a new client resumes from the old one's cursor. */
  private restart(shortPollInterval: number): void {
    this.shortPollInterval = shortPollInterval;
    const cursor = this.sub?.cursor;
    if (this.client !== undefined) {
      this.banner.forget(this.client);
      this.client.close();
    }
    this.start(cursor);
  }

  private drop(): void {
    this.drops++;
    this.meter.drop();
  }

  private state(s: StateChange): void {
    this.element.dataset.state = s.state;
    const text: Record<StateChange['state'], string> = {
      connecting: 'connecting…',
      connected: this.drops > 0 ? `connected · resumed after ${this.drops} drop${this.drops > 1 ? 's' : ''}` : 'connected',
      reconnecting: `reconnecting${s.reason !== undefined ? ` (${s.reason})` : ''}…`,
      closed: 'closed',
    };
    this.fields.state.textContent = text[s.state];
  }

  private message(m: Message): void {
    this.count++;
    this.received.add();
    this.sequence.see(m.epoch, m.offset);
    const data = m.data as { t?: unknown; text?: unknown } | null;
    if (typeof data?.t === 'number') this.latencies.add(Date.now() - data.t);
    const shown = typeof data?.text === 'string' ? data.text : JSON.stringify(m.data);
    this.lastText = `#${m.offset}: ${shown.length > 60 ? shown.slice(0, 60) + '…' : shown}`;
  }

  /** Called by the lab's one timer: numbers to the DOM, the chart redrawn. */
  render(): void {
    const { meter, fields } = this;
    this.requests.add(meter.requests - this.lastRequests);
    this.lastRequests = meter.requests;
    fields.received.textContent = String(this.count);
    fields.last.textContent = this.lastText;
    fields.requests.textContent = String(meter.requests);
    if (TRANSPORT_INFO[this.transport].polls) fields.empty.textContent = String(meter.emptyAnswers);
    const perMessage = this.count > 0 ? `${formatBytes(meter.totalBytes / this.count)}/msg, ` : '';
    const estimated = meter.totalBytes > 0 ? Math.round((meter.estimatedBytes / meter.totalBytes) * 100) : 0;
    fields.bytes.replaceChildren(formatBytes(meter.totalBytes), el('span', { class: 'sub' }, `${perMessage}${estimated} % estimated`));
    fields.bytes.title = `${formatBytes(meter.exactBytes)} counted (bodies, frames), ${formatBytes(meter.estimatedBytes)} estimated (HTTP heads, handshakes)`;
    const p50 = this.latencies.quantile(0.5);
    const p99 = this.latencies.quantile(0.99);
    fields.latency.textContent = p50 === undefined ? '– / –' : `${p50} / ${p99} ms`;
    const { repeats, holes } = this.sequence;
    fields.anomalies.textContent = `${repeats} / ${holes + this.gaps}`;
    fields.anomalies.classList.toggle('bad', repeats + holes + this.gaps > 0);
    this.chart.draw();
  }
}

function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}
