/**
 * Deployment log: Server-Sent Events with resume. The lines shown and the subscription's
 * cursor are kept in sessionStorage after every line, so a reload (or a crash of the tab)
 * picks up exactly where it was: the lines come back from storage, and the stream resumes
 * after the last one shown — none lost, none repeated. The demo feed publishes a deploy on
 * `demo:deploy`; when one finishes, a new one starts.
 */
import { Tidings, type Message } from '/client.js';
import { byId, el } from '../shared/dom.js';
import { ServerBanner } from '../shared/server-banner.js';

interface LogLine {
  deploy: string;
  line: number;
  of: number;
  level: 'info' | 'warn' | 'done';
  text: string;
}
interface Shown extends LogLine {
  epoch: string;
  offset: number;
}

const CHANNEL = 'demo:deploy';
const STORE = `tidings.deploy-log.${CHANNEL}`;
const KEEP = 300;

const client = new Tidings(location.origin, { transports: ['sse'] });
new ServerBanner(byId('banner')).watch(client);
const list = byId<HTMLOListElement>('log');
const pill = byId('log-state');
const resumed = byId('log-resumed');

const stored = JSON.parse(sessionStorage.getItem(STORE) ?? 'null') as { cursor?: string; lines: Shown[] } | null;
const saved = typeof stored?.cursor === 'string' ? { cursor: stored.cursor, lines: stored.lines } : null;
const lines: Shown[] = saved?.lines ?? [];
for (const line of lines) render(line);
if (saved !== null) resumed.textContent = `Resumed after a reload: ${lines.length} lines restored, the stream goes on from line ${lines.at(-1)?.line ?? 0}.`;

client.on('state', (s) => {
  pill.dataset.state = s.state;
  pill.textContent = s.state === 'reconnecting' ? 'reconnecting…' : s.state;
});
client.on('gap', (g) => {
  list.append(el('li', { class: 'warn' }, `[history no longer covers lines from offset ${g.from}; going on from ${g.first}]`));
});

// First visit: the last 40 lines, so a deploy under way shows from near its start.
const sub = client.subscribe(CHANNEL, (m: Message) => {
  // The cursor already excludes what was shown; this check only makes that visible.
  const previous = lines.at(-1);
  if (previous !== undefined && previous.epoch === m.epoch && m.offset <= previous.offset) return;
  const line = { ...(m.data as LogLine), epoch: m.epoch, offset: m.offset };
  lines.push(line);
  if (lines.length > KEEP) lines.splice(0, lines.length - KEEP);
  render(line);
  saveSoon();
}, saved === null ? { last: 40 } : { cursor: saved.cursor });

/**
 * Saves once the SDK has handed over everything that arrived together. Messages of one poll
 * answer share one cursor, which comes with the last of them, so `sub.cursor` read inside
 * the handler may not cover this message yet; after the current task it covers every line shown.
 */
let saving = false;
function saveSoon(): void {
  if (saving) return;
  saving = true;
  queueMicrotask(() => {
    saving = false;
    if (sub.cursor !== undefined) sessionStorage.setItem(STORE, JSON.stringify({ cursor: sub.cursor, lines }));
  });
}

let shownDeploy: string | undefined;
function render(line: Shown): void {
  byId('log-empty').hidden = true;
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  // A heading wherever a deploy begins, or where the page joined one under way.
  if (line.deploy !== shownDeploy) list.append(el('li', { class: 'deploy-start' }, `── ${line.deploy}${line.line > 1 ? ` (joined at line ${line.line})` : ''} ──`));
  shownDeploy = line.deploy;
  list.append(
    el('li', { class: line.level, 'data-offset': String(line.offset), 'data-line': `${line.deploy}#${line.line}` },
      el('span', { class: 'n' }, `${String(line.line).padStart(2, ' ')}/${line.of}`), line.text),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

byId('log-clear').addEventListener('click', () => {
  sessionStorage.removeItem(STORE);
  location.reload();
});
