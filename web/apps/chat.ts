/**
 * Chat room: WebSocket both ways. Joining shows the last 50 messages; what anyone sends
 * (another tab, another machine, curl) appears at once. Copy this file to start your own.
 */
import { Tidings, type Message } from '/client.js';
import { byId, clock, el, isChannelName } from '../shared/dom.js';
import { ServerBanner } from '../shared/server-banner.js';

interface ChatLine {
  name: string;
  text: string;
}

const room = `chat:${new URLSearchParams(location.search).get('room') ?? 'lobby'}`;
const client = new Tidings(location.origin, { transports: ['ws'] });
new ServerBanner(byId('banner')).watch(client);

const log = byId<HTMLOListElement>('chat-log');
const form = byId<HTMLFormElement>('chat-form');
const nameInput = byId<HTMLInputElement>('chat-name');
const textInput = byId<HTMLInputElement>('chat-text');
const status = byId('chat-status');
const pill = byId('chat-state');
byId('chat-room').textContent = room;

nameInput.value = localStorage.getItem('tidings.chat.name') ?? '';
nameInput.addEventListener('change', () => localStorage.setItem('tidings.chat.name', nameInput.value.trim()));

client.on('state', (s) => {
  pill.dataset.state = s.state;
  pill.textContent = s.state === 'reconnecting' ? 'reconnecting…' : s.state;
});

client.on('error', (e) => (status.textContent = e.message));
if (isChannelName(room)) client.subscribe(room, show, { last: 50 });
else status.textContent = `"${room}" is not a room name: use letters, digits and _ - . : @ /.`;

function show(m: Message): void {
  const line = m.data as Partial<ChatLine>;
  const name = typeof line.name === 'string' ? line.name : 'someone';
  const text = typeof line.text === 'string' ? line.text : JSON.stringify(m.data);
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  log.append(
    el('li', { class: name === nameInput.value.trim() ? 'mine' : undefined, 'data-offset': String(m.offset) },
      el('span', { class: 'who' }, name), text, el('time', { datetime: new Date(m.time).toISOString() }, clock(m.time))),
  );
  if (atBottom) log.scrollTop = log.scrollHeight;
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = nameInput.value.trim();
  const text = textInput.value.trim();
  if (name === '') {
    status.textContent = 'Choose a name first.';
    nameInput.focus();
    return;
  }
  if (text === '') return;
  localStorage.setItem('tidings.chat.name', name);
  textInput.value = '';
  status.textContent = '';
  try {
    // Over the open WebSocket; the SDK adds an idempotency key, so a retry is never a double.
    await client.publish(room, { name, text } satisfies ChatLine);
  } catch (err) {
    textInput.value = text;
    status.textContent = `Not sent: ${(err as Error).message}`;
  }
});
