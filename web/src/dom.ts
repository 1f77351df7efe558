/** A tiny hyperscript: enough DOM building for a handful of screens, no framework. */

export type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (event: never) => void;
export type Props = Record<string, string | number | boolean | null | undefined | Handler>;

const PROPERTY_KEYS = new Set(['value', 'checked', 'disabled', 'hidden', 'open']);

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') {
      element.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    } else if (key === 'class') {
      element.className = String(value);
    } else if (PROPERTY_KEYS.has(key)) {
      (element as unknown as Record<string, unknown>)[key] = value;
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: Child[]) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces an element's content. */
export function mount(parent: Element, ...children: Child[]) {
  parent.replaceChildren();
  append(parent, children);
}

let ids = 0;
export const uid = (prefix: string) => `${prefix}-${++ids}`;

/** Replaces a region's content, giving focus back to the element with the same `data-focus` key. */
export function rebuild(region: HTMLElement, ...children: Child[]) {
  const active = document.activeElement;
  const focusKey = active instanceof HTMLElement && region.contains(active) ? active.dataset.focus : undefined;
  mount(region, ...children);
  if (focusKey) region.querySelector<HTMLElement>(`[data-focus="${CSS.escape(focusKey)}"]`)?.focus();
}

/** A form the app handles itself (no page load, no browser bubbles: messages are the app's own). */
export function appForm(props: Props, onSubmit: () => void, ...children: Child[]) {
  return h(
    'form',
    {
      ...props,
      novalidate: true,
      onSubmit: (event: SubmitEvent) => {
        event.preventDefault();
        onSubmit();
      },
    },
    ...children,
  );
}
