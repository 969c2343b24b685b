import { ElMessageBox } from 'element-plus';
import { i18n } from '../i18n';

/** Asks for the name of a new rule or segment; null when the user cancels. */
export async function promptName(opts: { title: string; prompt: string; defaultName: string }): Promise<string | null> {
  const t = i18n.global.t;
  try {
    const { value } = await ElMessageBox.prompt(opts.prompt, opts.title, {
      inputValue: opts.defaultName,
      inputValidator: (v: string) => (v.trim() ? true : t('rules.list.nameRequired')),
    });
    return value.trim();
  } catch {
    return null;
  }
}
