/** The drag payload type a palette item carries onto the canvas. */
export const PALETTE_MIME = 'application/x-segflow-node';
