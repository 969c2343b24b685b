import { ElMessageBox } from 'element-plus';
import { i18n } from '../i18n';

/** Asks before an action (a rotation, a revocation); true when confirmed. `danger` paints the confirm button red. */
export async function confirmAction(message: string, title: string, danger = false): Promise<boolean> {
  const t = i18n.global.t;
  try {
    await ElMessageBox.confirm(message, title, {
      confirmButtonText: t('common.confirm'),
      cancelButtonText: t('common.cancel'),
      type: 'warning',
      confirmButtonClass: danger ? 'el-button--danger' : undefined,
    });
    return true;
  } catch {
    return false;
  }
}
