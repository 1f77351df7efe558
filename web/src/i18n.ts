import { en } from './i18n/en';
import { type Dict, pt } from './i18n/pt-br';

/** The language in use (pt-BR by default, remembered in localStorage), its dictionary and the locale-aware formats. */

export type Lang = 'pt-BR' | 'en';
const LANG_KEY = 'ghostless.lang';

const DICTS: Record<Lang, Dict> = { 'pt-BR': pt, en };

let current: Lang = readLang();

function readLang(): Lang {
  try {
    return localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'pt-BR';
  } catch {
    return 'pt-BR';
  }
}

export const lang = () => current;
export const t = (): Dict => DICTS[current];

export function setLang(next: Lang) {
  current = next;
  try {
    localStorage.setItem(LANG_KEY, next);
  } catch {
    /* private mode: not remembered */
  }
  document.documentElement.lang = next;
}

/** "2:05", "1:02:05". */
export function formatDuration(ms: number) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** "há 3 minutos" / "3 minutes ago". */
export function formatAgo(iso: string, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(current, { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 45) return rtf.format(0, 'second');
  if (abs < 45 * 60) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 22 * 3600) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}

export function formatDate(iso: string) {
  return new Intl.DateTimeFormat(current, { dateStyle: 'short', timeStyle: 'short' }).format(new Date(iso));
}

export function formatBytes(bytes: number) {
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${new Intl.NumberFormat(current, { maximumFractionDigits: unit === 0 ? 0 : 1 }).format(value)} ${units[unit]}`;
}
