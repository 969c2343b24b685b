import { ref, watch, type Ref } from 'vue';
import { errorMessage } from './errors';

/**
 * The save of an edit dialog: `submit(work)` shows the spinner, runs the API call(s), closes the
 * dialog when they succeed and shows the API's message (localized) in the dialog when they fail.
 * The message is cleared each time the dialog opens.
 */
export function useDialogSave(open: Ref<boolean>) {
  const saving = ref(false);
  const error = ref<string | null>(null);
  watch(open, (isOpen) => {
    if (isOpen) error.value = null;
  });
  /** `{ value }` of `work` once saved and closed; null when it failed (the dialog stays open). */
  async function submit<T>(work: () => Promise<T>): Promise<{ value: T } | null> {
    saving.value = true;
    error.value = null;
    try {
      const value = await work();
      open.value = false;
      return { value };
    } catch (e) {
      error.value = errorMessage(e);
      return null;
    } finally {
      saving.value = false;
    }
  }
  return { saving, error, submit };
}
