import { createI18n } from 'vue-i18n';
import zhCN from '../locales/zh-CN/index';

export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

const STORAGE_KEY = 'segflow.locale';

/**
 * zh-CN is the default and the fallback, so it is in the first screen's bundle; every other
 * language is its own chunk, fetched when someone picks it (or has picked it before: `startLocale`
 * loads it before the app mounts, so no screen ever shows message keys).
 */
const lazyLocales: Record<Exclude<Locale, 'zh-CN'>, () => Promise<{ default: typeof zhCN }>> = {
  en: () => import('../locales/en/index'),
};

/** The user's saved choice, else the browser's language: any Chinese variant gets zh-CN. */
export function initialLocale(): Locale {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === 'zh-CN' || saved === 'en') return saved;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const lang of preferred) {
    const l = lang.toLowerCase();
    if (l.startsWith('zh')) return 'zh-CN';
    if (l.startsWith('en')) return 'en';
  }
  return 'zh-CN';
}

export const i18n = createI18n({
  legacy: false,
  locale: 'zh-CN',
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN } as Record<Locale, typeof zhCN>,
});

/** Loads a language's messages once (later calls reuse them), without switching to it. */
export async function loadMessages(locale: Locale): Promise<void> {
  if (locale === 'zh-CN' || i18n.global.availableLocales.includes(locale)) return;
  const messages = (await lazyLocales[locale]()).default;
  i18n.global.setLocaleMessage(locale, messages);
}

function apply(locale: Locale) {
  i18n.global.locale.value = locale;
  document.documentElement.lang = locale;
}

let wanted: Locale = 'zh-CN';

/**
 * Switches the interface to `locale` once its messages are here, and remembers the choice.
 * When they cannot be fetched (offline, a deploy replaced the chunk) the interface stays in the
 * language it is in and this resolves to false: the language switch keeps showing that one.
 * Of two quick switches the last one wins, whichever chunk arrives first.
 */
export async function setLocale(locale: Locale): Promise<boolean> {
  wanted = locale;
  try {
    await loadMessages(locale);
  } catch (e) {
    console.error(`the ${locale} messages did not load`, e);
    return false;
  }
  if (wanted !== locale) return false;
  apply(locale);
  localStorage.setItem(STORAGE_KEY, locale);
  return true;
}

/**
 * Before the app mounts: the saved or browser language, its messages loaded; zh-CN when they
 * cannot be fetched (the saved choice is kept for the next visit).
 */
export async function startLocale(): Promise<void> {
  const locale = initialLocale();
  wanted = locale;
  try {
    await loadMessages(locale);
    apply(locale);
  } catch (e) {
    console.error(`the ${locale} messages did not load; showing zh-CN`, e);
    apply('zh-CN');
  }
}
