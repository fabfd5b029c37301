// Today's entry in a few taps (Pain, then optional details) and the diary list with edit
// and delete. Everything is read from and written to the device first (sync.js).
import * as sync from '../sync.js';
import { S, REGIONS } from '../strings.js';
import {
  h, field, replace, select, announce, nextId, formatDate, formatClock, localTimestamp,
  toLocalInput, fromLocalInput,
} from '../dom.js';

// Fields of an entry the client owns (everything else is the server's).
const ENTRY_FIELDS = [
  'recorded_at', 'local_date', 'pain', 'pain_worst', 'sites', 'sleep_hours', 'sleep_quality',
  'stress', 'mood', 'activity_interference', 'enjoyment_interference', 'medications', 'tags', 'notes',
];
const LIST_LIMIT = 60;

function optionalNumber(input) {
  const value = input.value.trim();
  return value === '' ? null : Number(value);
}

function painClass(pain) {
  if (pain >= 7) return 'pain-high';
  if (pain >= 4) return 'pain-mid';
  return 'pain-low';
}

export function diaryScreen(main, { navigate }) {
  let editing = null; // the record being edited, or null for a new entry
  let shown = LIST_LIMIT;
  let confirming = null; // id of the entry whose delete waits for confirmation
  const formHost = h('section', { class: 'card', 'aria-labelledby': 'entry-heading' });
  const list = h('ul', { class: 'entries' });
  const more = h('div');
  const heading = h('h1', {}, S.diaryTitle);
  replace(
    main,
    heading,
    formHost,
    h('section', { 'aria-labelledby': 'entries-heading' }, h('h2', { id: 'entries-heading' }, S.yourEntries), list, more),
  );

  function renderForm() {
    const data = editing ? editing.data : {};
    // A new entry has no pain until the person sets one: a slider left where it started
    // must not record a 0 (or any number) nobody chose.
    let painChosen = data.pain !== undefined && data.pain !== null;
    const pain = h('input', {
      type: 'range', min: 0, max: 10, step: 1, class: painChosen ? 'pain-slider' : 'pain-slider unset',
      value: String(data.pain ?? 5), 'aria-describedby': 'pain-scale',
    });
    if (!painChosen) pain.setAttribute('aria-valuetext', S.painNotChosen);
    const painValue = h('output', { class: 'pain-value', for: null, 'aria-hidden': 'true' }, painChosen ? String(data.pain) : '–');
    function choosePain() {
      painChosen = true;
      pain.classList.remove('unset');
      pain.removeAttribute('aria-valuetext');
      painValue.textContent = pain.value;
      painValue.className = `pain-value ${painClass(Number(pain.value))}`;
    }
    pain.addEventListener('input', choosePain);
    // A tap or a key on the value already shown chooses it too (no input event then).
    pain.addEventListener('pointerup', choosePain);
    pain.addEventListener('keyup', choosePain);
    painValue.className = painChosen ? `pain-value ${painClass(Number(pain.value))}` : 'pain-value pain-unset';
    pain.id = nextId('pain');
    const shownAt = data.recorded_at ?? localTimestamp();
    const when = h('input', { type: 'datetime-local', required: true, value: toLocalInput(shownAt) });
    const sleep = h('input', { type: 'number', min: 0, max: 24, step: 0.5, inputmode: 'decimal', value: data.sleep_hours ?? '' });
    const stress = h('input', { type: 'number', min: 0, max: 10, step: 1, inputmode: 'numeric', value: data.stress ?? '' });
    const mood = h('input', { type: 'number', min: 0, max: 10, step: 1, inputmode: 'numeric', value: data.mood ?? '' });
    const chosen = new Set((data.sites ?? []).map((site) => site.region));
    const regions = h('fieldset', { class: 'chips' }, h('legend', {}, S.whereItHurts),
      REGIONS.map(([value, label]) => {
        const id = nextId('region');
        return h('span', { class: 'chip' },
          h('input', { type: 'checkbox', id, name: 'region', value, checked: chosen.has(value) }),
          h('label', { for: id }, label));
      }));
    const regionsBox = h('details', { class: 'more', open: chosen.size > 0 ? true : null },
      h('summary', {}, S.whereItHurts, chosen.size ? ` (${chosen.size})` : ''), regions);

    const medsList = h('div', { class: 'stack' });
    const addMedication = (medication = {}) => {
      const name = h('input', { type: 'text', maxlength: 100, value: medication.name ?? '', autocomplete: 'off', 'data-dose': medication.dose ?? '', 'data-unit': medication.unit ?? '' });
      const kind = select([['as_needed', S.asNeeded], ['preventive', S.preventive]], medication.kind ?? 'as_needed');
      const row = h('div', { class: 'medication' },
        field(S.medicationName, name), field(S.medicationKind, kind),
        h('button', { type: 'button', class: 'quiet', onclick: () => row.remove() }, S.removeMedication));
      medsList.append(row);
      return name;
    };
    for (const medication of data.medications ?? []) addMedication(medication);
    const meds = h('fieldset', { class: 'group' }, h('legend', {}, S.medications), medsList,
      h('button', { type: 'button', class: 'secondary', onclick: () => addMedication().focus() }, S.addMedication));

    const tags = h('input', { type: 'text', list: 'tag-suggestions', value: (data.tags ?? []).join(', '), autocomplete: 'off' });
    const tagSuggestions = h('datalist', { id: 'tag-suggestions' }, S.tagSuggestions.map((tag) => h('option', { value: tag })));
    const notes = h('textarea', { rows: 3, maxlength: 2000, value: data.notes ?? '' });
    const error = h('p', { class: 'error', role: 'alert' });

    function entryBody() {
      const previous = editing ? editing.data : {};
      const body = {};
      for (const key of ENTRY_FIELDS) if (previous[key] !== undefined) body[key] = previous[key];
      // Left as shown: the time of saving (to the second) for a new entry, the old one when editing.
      const untouched = when.value === toLocalInput(shownAt);
      body.recorded_at = untouched ? (previous.recorded_at ?? localTimestamp()) : fromLocalInput(when.value);
      // A back-filled local_date stays only while it differs from the time's own date.
      if (!body.local_date || body.local_date === body.recorded_at.slice(0, 10) || body.local_date === previous.recorded_at?.slice(0, 10)) {
        delete body.local_date;
      }
      body.pain = Number(pain.value);
      body.sleep_hours = optionalNumber(sleep);
      body.stress = optionalNumber(stress);
      body.mood = optionalNumber(mood);
      const oldSites = new Map((previous.sites ?? []).map((site) => [site.region, site]));
      body.sites = [...regions.querySelectorAll('input:checked')].map((box) => oldSites.get(box.value) ?? { region: box.value });
      body.medications = [...medsList.querySelectorAll('.medication')].map((row) => {
        const name = row.querySelector('input');
        const medication = { name: name.value.trim(), kind: row.querySelector('select').value };
        if (name.dataset.dose) medication.dose = Number(name.dataset.dose);
        if (name.dataset.unit) medication.unit = name.dataset.unit;
        return medication;
      }).filter((medication) => medication.name);
      body.tags = [...new Set(tags.value.split(',').map((tag) => tag.trim()).filter(Boolean))];
      body.notes = notes.value.trim() || null;
      return body;
    }

    function validate(body) {
      if (!painChosen) return S.choosePain;
      if (!when.value) return S.checkWhen;
      if (new Date(body.recorded_at).getTime() > Date.now() + 24 * 3600 * 1000) return S.checkWhen;
      if (body.sleep_hours !== null && !(body.sleep_hours >= 0 && body.sleep_hours <= 24)) return S.checkSleep;
      for (const [value, label] of [[body.stress, S.stress], [body.mood, S.mood]]) {
        if (value !== null && !(Number.isInteger(value) && value >= 0 && value <= 10)) return S.checkScale(label);
      }
      if (body.tags.some((tag) => tag.length > 40) || body.tags.length > 20) return S.checkTags;
      return null;
    }

    async function onSubmit(event) {
      event.preventDefault();
      const body = entryBody();
      const problem = validate(body);
      if (problem) {
        error.textContent = problem;
        return;
      }
      const id = editing ? editing.id : crypto.randomUUID();
      const wasEditing = Boolean(editing);
      editing = null;
      renderForm(); // at once: the next entry starts from a fresh form
      await sync.save('entry', id, body);
      announce(wasEditing ? S.entryUpdated : S.entrySaved);
      await refresh();
    }

    replace(
      formHost,
      h('h2', { id: 'entry-heading' }, editing ? S.editEntry : S.newEntry),
      h('form', { class: 'stack', onsubmit: onSubmit },
        h('div', { class: 'field pain-field' },
          h('div', { class: 'pain-label' }, h('label', { for: pain.id }, S.pain), painValue),
          pain,
          h('div', { class: 'scale', 'aria-hidden': 'true' }, Array.from({ length: 11 }, (_, n) => h('span', {}, String(n)))),
          h('p', { class: 'hint', id: 'pain-scale' }, S.painScale)),
        h('div', { class: 'row' },
          field(S.sleepHours, sleep),
          field(S.stress, stress, { hint: S.stressScale }),
          field(S.mood, mood, { hint: S.moodScale })),
        regionsBox,
        meds,
        field(S.tags, tags, { hint: S.tagsHint }), tagSuggestions,
        field(S.notes, notes),
        field(S.when, when),
        error,
        h('div', { class: 'actions' },
          h('button', { type: 'submit', class: 'primary big' }, S.saveEntry),
          editing ? h('button', { type: 'button', class: 'secondary', onclick: () => { editing = null; renderForm(); } }, S.cancelEdit) : null),
      ),
    );
  }

  function entryItem(record) {
    const data = record.data;
    const date = data.local_date ?? data.recorded_at.slice(0, 10);
    const label = S.entryWhen(formatDate(date), formatClock(data.recorded_at));
    const facts = [
      data.sleep_hours != null ? S.sleepFact(data.sleep_hours) : null,
      data.stress != null ? S.stressFact(data.stress) : null,
      data.mood != null ? S.moodFact(data.mood) : null,
    ].filter(Boolean);
    const chips = [
      ...(data.sites ?? []).map((site) => S.regionLabel(site.region)),
      ...(data.medications ?? []).map((medication) => medication.name),
      ...(data.tags ?? []),
    ];
    const actions = confirming === record.id
      ? h('div', { class: 'actions confirm' },
        h('p', {}, S.deleteQuestion),
        h('button', { type: 'button', class: 'danger', onclick: async () => { confirming = null; await sync.remove('entry', record.id); announce(S.entryDeleted); } }, S.confirmDelete),
        h('button', { type: 'button', class: 'secondary', onclick: () => { confirming = null; refresh(); } }, S.keepEntry))
      : h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', 'aria-label': S.editEntryOf(label), onclick: () => { editing = record; renderForm(); formHost.querySelector('h2').scrollIntoView(); formHost.querySelector('input').focus(); } }, S.edit),
        h('button', { type: 'button', class: 'quiet', 'aria-label': S.deleteEntryOf(label), onclick: () => { confirming = record.id; refresh().then(() => list.querySelector('.confirm .danger')?.focus()); } }, S.delete));
    return h('li', { class: 'entry', 'data-id': record.id },
      h('div', { class: 'entry-head' },
        h('span', { class: `pain-badge ${painClass(data.pain)}` }, h('span', { class: 'visually-hidden' }, `${S.pain} `), String(data.pain)),
        h('div', {},
          h('p', { class: 'entry-when' }, label),
          facts.length ? h('p', { class: 'entry-facts' }, facts.join(' · ')) : null,
          record.pending ? h('p', { class: 'badge pending' }, S.notUploaded) : null)),
      chips.length ? h('ul', { class: 'tags', 'aria-label': S.details }, chips.map((chip) => h('li', {}, chip))) : null,
      data.notes ? h('p', { class: 'entry-notes' }, data.notes) : null,
      actions);
  }

  async function refresh() {
    const records = (await sync.records('entry')).sort((a, b) => {
      const dateA = a.data.local_date ?? a.data.recorded_at.slice(0, 10);
      const dateB = b.data.local_date ?? b.data.recorded_at.slice(0, 10);
      return dateB.localeCompare(dateA) || new Date(b.data.recorded_at) - new Date(a.data.recorded_at)
        || (b.data.created_at ?? '').localeCompare(a.data.created_at ?? '');
    });
    if (editing && !records.some((record) => record.id === editing.id)) {
      editing = null;
      renderForm();
    }
    replace(list, records.length ? records.slice(0, shown).map(entryItem) : h('li', { class: 'empty' }, S.noEntries));
    replace(more, records.length > shown
      ? h('button', { type: 'button', class: 'secondary', onclick: () => { shown += LIST_LIMIT; refresh(); } }, S.showMore)
      : null);
  }

  renderForm();
  refresh();
  return { refresh };
}
