import { Tidings, type TransportName } from '/client.js';
import { byId, el, isChannelName } from '../shared/dom.js';
import { ServerBanner } from '../shared/server-banner.js';
import { TransportPanel } from './panel.js';
import { Publisher } from './publisher.js';

/**
 * The transport lab: one channel (`?channel=` or `lab`), subscribed once per transport, each
 * panel with a client of its own so each one's cost is counted apart.
 */
const TRANSPORTS: TransportName[] = ['short-poll', 'long-poll', 'sse', 'ws'];
const channel = new URLSearchParams(location.search).get('channel') ?? 'lab';

const banner = new ServerBanner(byId('banner'));
const container = byId('panels');
container.dataset.channel = channel;
for (const node of document.querySelectorAll('[data-channel-name]')) node.textContent = channel;
for (const node of document.querySelectorAll('[data-origin]')) node.textContent = location.origin;

const valid = isChannelName(channel);
const panels = valid ? TRANSPORTS.map((t) => new TransportPanel(t, channel, banner)) : [];
if (valid) container.replaceChildren(...panels.map((p) => p.element));
else container.replaceChildren(el('p', { class: 'status', role: 'alert' }, `"${channel}" is not a channel name: use 1 to 200 characters of A-Z a-z 0-9 _ - . : @ /.`));
for (const p of panels) p.start();

// Publishing goes over HTTP POST from a client of its own, as curl or a backend would.
const publisherClient = new Tidings(location.origin, { transports: ['long-poll'] });
const status = byId('publish-status');
const publisher = new Publisher(publisherClient, channel, (err) => {
  status.textContent = `Publish failed: ${(err as Error).message}`;
});

const form = byId<HTMLFormElement>('publish-form');
const input = byId<HTMLInputElement>('publish-text');
form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = input.value.trim();
  if (text === '') {
    status.textContent = 'Type a message first.';
    input.focus();
    return;
  }
  status.textContent = '';
  void publisher.publish(text);
  input.value = '';
});

const rate = byId<HTMLInputElement>('rate');
const rateOut = byId<HTMLOutputElement>('rate-value');
rate.addEventListener('input', () => {
  rateOut.value = `${rate.value} messages/s`;
  rate.setAttribute('aria-valuetext', `${rate.value} messages a second`);
  publisher.setRate(Number(rate.value));
});

// One timer renders every panel and the publisher's numbers, four times a second.
setInterval(() => {
  for (const p of panels) p.render();
  const behind = publisher.behind > 0 ? `, ${publisher.behind} skipped (publishes were answered slower than the rate)` : '';
  const failed = publisher.failed > 0 ? `, ${publisher.failed} failed` : '';
  byId('published-count').textContent = `${publisher.published} published from this page${failed}${behind}`;
}, 250);
