/** A tiny store: one state object, shallow updates, synchronous subscribers. */

export interface Store<S> {
  get(): S;
  set(patch: Partial<S> | ((state: S) => Partial<S>)): void;
  subscribe(listener: (state: S) => void): () => void;
}

export function createStore<S extends object>(initial: S): Store<S> {
  let state = initial;
  const listeners = new Set<(state: S) => void>();
  return {
    get: () => state,
    set(patch) {
      state = { ...state, ...(typeof patch === 'function' ? patch(state) : patch) };
      for (const listener of Array.from(listeners)) listener(state);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * Calls `render` now and whenever `key` changes: a view rebuilds only when what it shows changed
 * (the key names exactly what that is).
 */
export function watch<S>(store: Store<S>, key: (state: S) => string, render: (state: S) => void) {
  let last: string | null = null;
  const run = (state: S) => {
    const next = key(state);
    if (next === last) return;
    last = next;
    render(state);
  };
  run(store.get());
  return store.subscribe(run);
}
