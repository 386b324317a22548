/** Children an element can be built with: nodes, text, or nothing (skipped). */
export type Child = Node | string | number | undefined | null | false;

/**
 * `el('p', { class: 'x' }, 'text', child)`: builds an element. Attributes are set with
 * setAttribute, text goes in as text nodes, so nothing a user typed is ever parsed as HTML.
 */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** The element with this id, which the page's HTML must have. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node as T;
}

/** A short clock time, `14:05:09`. */
export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** PROTOCOL.md § Model, as the server checks it: say so before asking, rather than after a 400. */
export function isChannelName(name: string): boolean {
  return /^[A-Za-z0-9_\-.:@/]{1,200}$/.test(name);
}
