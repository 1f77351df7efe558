import { InvalidRequest } from './errors';
import type { CreditLedger } from './ports';

const MAX_PAGE = 100;
const MAX_GRANT = 1_000_000;
const MAX_NOTE = 200;

/** Credits: the sign-up grant on first use, operator grants, and the caller's ledger. */
export function credits(ledger: CreditLedger, signupCredits: number) {
  /** The caller's balance; a user seen for the first time gets SIGNUP_CREDITS, once, whatever races. */
  async function balance(userId: string) {
    const account = await ledger.account(userId);
    if (account?.signedUp || signupCredits === 0) return account?.balance ?? 0;
    await ledger.grantCredits(userId, signupCredits, 'signup', { signup: true });
    return ledger.balance(userId);
  }

  async function entries(userId: string, query: { limit?: string; cursor?: string }) {
    // Same rules as GET /api/jobs: digits only, 1..100.
    const limit = query.limit === undefined ? 20 : /^\d{1,3}$/.test(query.limit) ? Number(query.limit) : Number.NaN;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new InvalidRequest(`limit must be a whole number from 1 to ${MAX_PAGE}.`);
    }
    await balance(userId);
    return ledger.ledger(userId, limit, query.cursor);
  }

  /** An operator's grant (`npm run credits -- grant`): never from the HTTP API, so no user can grant themselves. */
  async function operatorGrant(userId: string, amount: number, note: string) {
    if (!/^[A-Za-z0-9_.@:-]{1,128}$/.test(userId)) throw new InvalidRequest('The user id is 1 to 128 letters, digits or "_.@:-".');
    if (!Number.isSafeInteger(amount) || amount < 1 || amount > MAX_GRANT) {
      throw new InvalidRequest(`The amount is a whole number from 1 to ${MAX_GRANT}.`);
    }
    const reason = note.trim();
    if (reason === '' || reason.length > MAX_NOTE) throw new InvalidRequest(`The reason is 1 to ${MAX_NOTE} characters.`);
    await ledger.grantCredits(userId, amount, 'operator', { note: reason });
    return { userId, granted: amount, balance: await ledger.balance(userId) };
  }

  return { balance, entries, operatorGrant };
}

export type CreditsService = ReturnType<typeof credits>;
