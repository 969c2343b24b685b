import { ref, watch } from 'vue';

/**
 * How the builder uses the screen, remembered across visits (localStorage): the palette and the
 * side panel shown or folded away, and full-screen (the canvas over the app's navigation; not
 * remembered: a fresh visit starts in the app). One state for every builder screen.
 */
const KEY = 'segflow.builder.layout';

function stored(): { palette: boolean; side: boolean } {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '{}') as { palette?: unknown; side?: unknown };
    return { palette: v.palette !== false, side: v.side !== false };
  } catch {
    return { palette: true, side: true };
  }
}

const initial = stored();
const paletteOpen = ref(initial.palette);
const sideOpen = ref(initial.side);
const fullscreen = ref(false);
watch([paletteOpen, sideOpen], ([palette, side]) => {
  try {
    localStorage.setItem(KEY, JSON.stringify({ palette, side }));
  } catch {
    // storage refused (private mode, quota): the layout still works for this visit
  }
});

export function useBuilderLayout() {
  return { paletteOpen, sideOpen, fullscreen };
}
