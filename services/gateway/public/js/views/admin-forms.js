// @ts-check
/*
 * Small helpers the admin forms share: labelled inputs, and showing an API error next to the input
 * it names (the gateway's `field` is the JSON name, e.g. "prices[1].amountCents").
 */
import { h } from '../dom.js';

/** A labelled field: `control` is an input/select/textarea with an id. */
export function field(label, control, hint) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('small', null, hint) : null,
  );
}

/** "Drama, Mystery ," → ["Drama", "Mystery"]. */
export const listOf = (text) =>
  text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

/**
 * Shows `text` in `errorBox` and marks the input named `fieldName` (exactly, else the input whose
 * name the field starts with: "prices[0].amountCents" falls back to "prices"), focusing it so a
 * keyboard user lands where the fix is.
 */
export function showError(form, errorBox, text, fieldName) {
  errorBox.textContent = text;
  errorBox.hidden = false;
  const wanted = fieldName ?? '';
  const inputs = [...form.querySelectorAll('[name]')];
  const target =
    inputs.find((input) => input.name === wanted) ??
    inputs.find((input) => input.name !== '' && wanted.startsWith(input.name));
  if (target) {
    target.setAttribute('aria-invalid', 'true');
    target.focus();
  }
}

/** Clears what showError marked. */
export function clearError(form, errorBox) {
  errorBox.hidden = true;
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
}
