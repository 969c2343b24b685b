import { ElMessage, ElMessageBox } from 'element-plus';
import { errorMessage } from '../errors';
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

/**
 * Asks (see {@link confirmAction}), then runs `work` and says so in a toast: `done` when it
 * succeeded, the API's reason when it failed. True when it ran and succeeded.
 */
export async function confirmAndRun(ask: { message: string; title: string; danger?: boolean }, work: () => Promise<unknown>, done: string) {
  if (!(await confirmAction(ask.message, ask.title, ask.danger))) return false;
  try {
    await work();
    ElMessage({ type: 'success', message: done });
    return true;
  } catch (e) {
    ElMessage({ type: 'error', message: i18n.global.t('common.failed', { message: errorMessage(e) }) });
    return false;
  }
}
