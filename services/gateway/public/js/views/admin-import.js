// @ts-check
/*
 * Admin: import a catalog document (docs/IMPORT.md) from a file on this computer or from a URL the
 * catalog fetches, with a progress bar fed by the gateway's line-by-line progress answer.
 */
import * as api from '../api.js';
import { h } from '../dom.js';
import { explain } from '../explain.js';
import * as messages from '../messages.js';
import { clearError, field, showError } from './admin-forms.js';

/** What people call the importer's phases. */
const PHASES = {
  fetch: 'Fetching the document',
  venues: 'Venues',
  events: 'Events',
  shows: 'Shows',
  done: 'Done',
};

/** The file's text as the document object; a clear message when it is not JSON. */
async function readDocument(file) {
  const text = await file.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${file.name} is not JSON: ${error.message}`);
  }
}

/** The import card; `onImported(summary)` runs after an import finished. */
export function importCard(signal, onImported) {
  const file = h('input', {
    id: 'import-file',
    name: 'document',
    type: 'file',
    accept: 'application/json,.json',
    'data-testid': 'import-file',
  });
  const url = h('input', {
    id: 'import-url',
    name: 'sourceUrl',
    type: 'url',
    placeholder: 'https://example.com/catalog.json',
    'data-testid': 'import-url',
  });
  const bar = h('progress', {
    max: 1,
    value: 0,
    'data-testid': 'import-progress',
    'aria-label': 'Import progress',
  });
  const phase = h(
    'p',
    { class: 'muted', 'aria-live': 'polite', 'data-testid': 'import-phase' },
    'Not started.',
  );
  const errorBox = h('p', {
    class: 'form-error',
    role: 'alert',
    'data-testid': 'import-error',
    hidden: true,
  });
  const submit = h(
    'button',
    { type: 'submit', class: 'button primary', 'data-testid': 'import-submit' },
    'Import',
  );

  const show = (progress) => {
    bar.max = Math.max(progress.total, 1);
    bar.value = progress.done;
    const counts = `${progress.created} new, ${progress.updated} updated, ${progress.unchanged} unchanged`;
    phase.textContent =
      progress.phase === 'done'
        ? `Done: ${progress.total} records — ${counts}.`
        : `${PHASES[progress.phase] ?? progress.phase}: ${progress.done} of ${progress.total || '?'} · ${counts}`;
  };

  const form = h(
    'form',
    { novalidate: true },
    h(
      'p',
      { class: 'muted' },
      'Movies, theaters and showtimes in the import format (docs/IMPORT.md). Records are matched by their ids, so importing the same document again changes nothing.',
    ),
    h(
      'div',
      { class: 'field-pair' },
      field('A file', file, 'Up to 4 MB.'),
      field('or a URL', url, 'The catalog service fetches it.'),
    ),
    h('div', { class: 'import-status' }, bar, phase),
    errorBox,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError(form, errorBox);
    const chosen = file.files?.[0];
    const link = url.value.trim();
    if (!chosen === !link)
      return showError(
        form,
        errorBox,
        'Choose a file or give a URL (one of the two).',
        chosen ? 'sourceUrl' : 'document',
      );
    submit.disabled = true;
    bar.value = 0;
    phase.textContent = 'Starting…';
    try {
      const source = chosen ? { document: await readDocument(chosen) } : { sourceUrl: link };
      const summary = await api.importCatalog(source, show, signal);
      show(summary);
      messages.info(`Catalog imported: ${summary.created} new, ${summary.updated} updated.`);
      onImported(summary);
    } catch (error) {
      if (signal.aborted) return;
      phase.textContent = 'Stopped.';
      const text = error.name === 'ApiError' ? explain(error) : error.message;
      showError(form, errorBox, text, error.field?.startsWith('document') ? 'document' : error.field);
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', { class: 'card', 'data-testid': 'import' }, h('h2', null, 'Import a catalog'), form);
}
