import type { LedgerEntry } from '../api';
import { h, rebuild } from '../dom';
import { formatDate, t } from '../i18n';
import type { AppStore } from '../state';
import { watch } from '../store';

export interface LedgerActions {
  more(): void;
}

/** The credit statement: every grant, charge and refund, newest first, with the balance each one left. */
export function mountLedger(region: HTMLElement, store: AppStore, actions: LedgerActions) {
  watch(
    store,
    (s) => {
      const { entries, nextCursor, loading, loaded } = s.ledger;
      return [s.lang, nextCursor, loading, loaded, entries.length, entries[0]?.at, entries[0]?.balance].join('|');
    },
    (s) => {
      const text = t();
      const { entries, nextCursor, loading, loaded } = s.ledger;
      rebuild(
        region,
        h('h2', { id: 'ledger-heading' }, text.ledgerHeading),
        loaded && entries.length === 0 ? h('p', { class: 'muted' }, text.ledgerEmpty) : null,
        !loaded && loading ? h('p', { class: 'muted' }, text.loading) : null,
        h('ul', { class: 'ledger-list', 'data-testid': 'ledger' }, entries.map(item)),
        nextCursor
          ? h(
              'button',
              { type: 'button', class: 'button secondary', disabled: loading, 'data-focus': 'ledger-more', onClick: () => actions.more() },
              loading ? text.loading : text.historyMore,
            )
          : null,
      );
    },
  );
}

function item(entry: LedgerEntry) {
  const text = t();
  return h(
    'li',
    { class: `ledger-item ledger-${entry.delta > 0 ? 'in' : 'out'}` },
    h(
      'div',
      { class: 'ledger-main' },
      h('p', null, h('strong', null, text.ledgerReason[entry.reason] ?? entry.reason)),
      h('p', { class: 'muted small' }, [formatDate(entry.at), entry.note].filter(Boolean).join(' · ')),
    ),
    h(
      'p',
      { class: 'ledger-amounts' },
      h('span', { class: 'ledger-delta' }, text.ledgerDelta(entry.delta)),
      h('span', { class: 'muted small' }, text.ledgerBalance(entry.balance)),
    ),
  );
}
