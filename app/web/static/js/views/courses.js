// Treatment courses and their sessions. Acupoint codes are checked against the API's
// reference list (kept on the device for offline use); aliases such as SJ5 become TE5.
import * as api from '../api.js';
import * as store from '../store.js';
import * as sync from '../sync.js';
import { S, CONDITIONS, MODALITIES } from '../strings.js';
import {
  h, field, replace, select, announce, formatDate, formatLongDate, localTimestamp, toLocalInput,
  fromLocalInput, today,
} from '../dom.js';

let reference = null; // {codes: Set, aliases: {SJ: 'TE', …}, items}

async function acupoints() {
  if (reference) return reference;
  let data = null;
  try {
    data = await api.getJson('/v1/reference/acupoints');
    await store.kvSet('acupoints', data);
  } catch {
    data = await store.kvGet('acupoints');
  }
  if (!data) return null;
  reference = { items: data.items, codes: new Set(data.items.map((item) => item.code)), aliases: data.aliases ?? {} };
  return reference;
}

/** "li 4", "LI-4", "sj5", "ex hn 3" → "LI4", "TE5", "EX-HN3"; null when unknown. Without the
 * reference list (offline on first use) any tidy code passes: the server checks it. */
export function normalisePoint(text, ref) {
  const compact = text.toUpperCase().replace(/\s+/g, '');
  let code = null;
  const extra = /^EX-?(HN|CA|B|UE|LE)-?(\d+)$/.exec(compact);
  if (extra) code = `EX-${extra[1]}${Number(extra[2])}`;
  else {
    const meridian = /^([A-Z]+)-?(\d+)$/.exec(compact);
    if (meridian) code = `${ref?.aliases[meridian[1]] ?? meridian[1]}${Number(meridian[2])}`;
  }
  if (!code) return null;
  return !ref || ref.codes.has(code) ? code : null;
}

// Fields of a course the client owns (PUT replaces the record, so all of them go up).
const COURSE_FIELDS = ['name', 'condition', 'modality', 'start_date', 'end_date', 'planned_sessions', 'practitioner', 'pattern', 'notes'];

const label = (options, value) => options.find(([v]) => v === value)?.[1] ?? value;

export function coursesScreen(main) {
  const sessionHost = h('section', { class: 'card', 'aria-labelledby': 'session-heading' });
  const listHost = h('section', { 'aria-labelledby': 'courses-heading' });
  const courseHost = h('section', { class: 'card', 'aria-labelledby': 'course-heading' });
  replace(main, h('h1', {}, S.coursesTitle), sessionHost, listHost, courseHost);
  let courses = [];

  function renderCourseForm() {
    const name = h('input', { type: 'text', required: true, maxlength: 200, autocomplete: 'off' });
    const condition = select(CONDITIONS, 'neck_pain');
    const modality = select(MODALITIES, 'acupuncture');
    const start = h('input', { type: 'date', required: true, value: today() });
    const end = h('input', { type: 'date' });
    const planned = h('input', { type: 'number', min: 1, max: 100, step: 1, inputmode: 'numeric' });
    const practitioner = h('input', { type: 'text', maxlength: 200, autocomplete: 'off' });
    const error = h('p', { class: 'error', role: 'alert' });
    async function onSubmit(event) {
      event.preventDefault();
      if (!name.value.trim() || !start.value) {
        error.textContent = S.checkCourse;
        return;
      }
      if (end.value && end.value < start.value) {
        error.textContent = S.checkEndDate;
        return;
      }
      const body = {
        name: name.value.trim(), condition: condition.value, modality: modality.value,
        start_date: start.value, end_date: end.value || null,
        planned_sessions: planned.value ? Number(planned.value) : null,
        practitioner: practitioner.value.trim() || null,
      };
      await sync.save('course', crypto.randomUUID(), body);
      announce(S.courseSaved);
      renderCourseForm();
      await refresh();
    }
    replace(courseHost,
      h('h2', { id: 'course-heading' }, S.newCourse),
      h('form', { class: 'stack', onsubmit: onSubmit },
        field(S.courseName, name, { hint: S.courseNameHint }),
        field(S.condition, condition),
        field(S.modality, modality),
        h('div', { class: 'row' }, field(S.startDate, start), field(S.endDate, end, { hint: S.endDateHint })),
        field(S.plannedSessions, planned),
        field(S.practitioner, practitioner),
        error,
        h('button', { type: 'submit', class: 'primary' }, S.createCourse)));
  }

  async function renderSessionForm() {
    const ref = await acupoints();
    const courseSelect = select(
      [...courses.map((course) => [course.id, course.data.name]), ['', S.noCourse]],
      courses[0]?.id ?? '',
    );
    const when = h('input', { type: 'datetime-local', required: true, value: toLocalInput(localTimestamp()) });
    const pointInput = h('input', { type: 'text', list: 'acupoint-codes', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' });
    const datalist = h('datalist', { id: 'acupoint-codes' },
      (ref?.items ?? []).map((item) => h('option', { value: item.code }, `${item.code} – ${item.meridian_name}`)));
    const points = [];
    const chips = h('ul', { class: 'tags points', 'aria-label': S.chosenPoints, 'aria-live': 'polite' });
    const pointError = h('p', { class: 'error', role: 'alert', id: 'point-error' });
    const before = h('input', { type: 'number', min: 0, max: 10, step: 1, inputmode: 'numeric' });
    const after = h('input', { type: 'number', min: 0, max: 10, step: 1, inputmode: 'numeric' });
    const duration = h('input', { type: 'number', min: 1, max: 240, step: 1, inputmode: 'numeric' });
    const error = h('p', { class: 'error', role: 'alert' });

    const renderChips = () => replace(chips, points.map((code) =>
      h('li', {}, code, h('button', { type: 'button', class: 'chip-remove', 'aria-label': S.removePoint(code), onclick: () => { points.splice(points.indexOf(code), 1); renderChips(); } }, '×'))));

    /** Adds what the point field holds; false (and a message) when it is not a known code. */
    function addPoints() {
      pointError.textContent = '';
      const typed = pointInput.value.split(/[,;]/).map((part) => part.trim()).filter(Boolean);
      for (const text of typed) {
        const code = normalisePoint(text, ref);
        if (!code) {
          pointError.textContent = S.unknownPoint(text);
          pointInput.setAttribute('aria-invalid', 'true');
          return false;
        }
        if (!points.includes(code)) points.push(code);
      }
      pointInput.removeAttribute('aria-invalid');
      pointInput.value = '';
      renderChips();
      return true;
    }
    pointInput.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        addPoints();
      }
    });

    const painNumber = (input) => (input.value.trim() === '' ? null : Number(input.value));
    async function onSubmit(event) {
      event.preventDefault();
      error.textContent = '';
      if (!addPoints()) return;
      const painBefore = painNumber(before);
      const painAfter = painNumber(after);
      for (const value of [painBefore, painAfter]) {
        if (value !== null && !(Number.isInteger(value) && value >= 0 && value <= 10)) {
          error.textContent = S.checkScale(S.pain);
          return;
        }
      }
      if (!when.value) {
        error.textContent = S.checkWhen;
        return;
      }
      const course = courses.find((c) => c.id === courseSelect.value);
      const body = {
        course_id: course ? course.id : null,
        occurred_at: fromLocalInput(when.value),
        modality: course ? course.data.modality : 'acupuncture',
        points: [...points],
        pain_before: painBefore,
        pain_after: painAfter,
        duration_minutes: duration.value ? Number(duration.value) : null,
      };
      await sync.save('session', crypto.randomUUID(), body);
      announce(S.sessionSaved);
      await renderSessionForm();
      await refresh();
    }

    replace(sessionHost,
      h('h2', { id: 'session-heading' }, S.newSession),
      h('form', { class: 'stack', onsubmit: onSubmit },
        field(S.course, courseSelect),
        field(S.when, when),
        h('div', { class: 'field' },
          h('label', { for: 'acupoint-input' }, S.acupoints),
          h('p', { class: 'hint', id: 'acupoint-hint' }, S.acupointsHint),
          h('div', { class: 'inline-add' },
            Object.assign(pointInput, { id: 'acupoint-input' }),
            h('button', { type: 'button', class: 'secondary', onclick: addPoints }, S.addPoint)),
          pointError, chips),
        datalist,
        h('div', { class: 'row' }, field(S.painBefore, before), field(S.painAfter, after)),
        field(S.duration, duration),
        error,
        h('button', { type: 'submit', class: 'primary' }, S.saveSession)));
    pointInput.setAttribute('aria-describedby', 'acupoint-hint point-error');
  }

  async function renderList() {
    const sessions = await sync.records('session');
    const byCourse = new Map();
    for (const session of sessions) {
      const key = session.data.course_id ?? '';
      if (!byCourse.has(key)) byCourse.set(key, []);
      byCourse.get(key).push(session);
    }
    const sessionItem = (session, number) => {
      const data = session.data;
      const relief = data.pain_before != null && data.pain_after != null
        ? S.painBeforeAfter(data.pain_before, data.pain_after) : null;
      return h('li', { class: 'session' },
        h('p', { class: 'entry-when' }, S.sessionNumber(number, formatDate(data.occurred_at.slice(0, 10)))),
        data.points?.length ? h('p', {}, h('span', { class: 'visually-hidden' }, `${S.acupoints}: `), data.points.join(', ')) : null,
        relief ? h('p', { class: 'entry-facts' }, relief) : null,
        session.pending ? h('p', { class: 'badge pending' }, S.notUploaded) : null);
    };
    const sessionsOf = (key) => (byCourse.get(key) ?? []).sort((a, b) => new Date(a.data.occurred_at) - new Date(b.data.occurred_at));
    replace(listHost,
      h('h2', { id: 'courses-heading' }, S.yourCourses),
      courses.length === 0 ? h('p', { class: 'empty' }, S.noCourses) : null,
      h('ul', { class: 'courses' }, courses.map((course) => {
        const data = course.data;
        const own = sessionsOf(course.id);
        return h('li', { class: 'card course' },
          h('h3', {}, data.name),
          h('p', { class: 'entry-facts' }, `${label(CONDITIONS, data.condition)} · ${label(MODALITIES, data.modality)}`),
          h('p', {}, data.end_date ? S.courseRange(formatLongDate(data.start_date), formatLongDate(data.end_date)) : S.courseSince(formatLongDate(data.start_date))),
          h('p', {}, S.sessionsDone(own.length, data.planned_sessions)),
          course.pending ? h('p', { class: 'badge pending' }, S.notUploaded) : null,
          data.end_date ? null : h('button', { type: 'button', class: 'secondary', 'aria-label': S.endCourseNamed(data.name), onclick: () => endCourse(course) }, S.endCourse),
          own.length ? h('ol', { class: 'sessions', 'aria-label': S.sessionsOf(data.name) }, own.map((s, i) => sessionItem(s, i + 1))) : null);
      })),
      sessionsOf('').length ? h('section', {}, h('h3', {}, S.sessionsWithoutCourse), h('ol', { class: 'sessions' }, sessionsOf('').map((s, i) => sessionItem(s, i + 1)))) : null);
  }

  async function endCourse(course) {
    const body = {};
    for (const key of COURSE_FIELDS) if (course.data[key] !== undefined) body[key] = course.data[key];
    body.end_date = today() < course.data.start_date ? course.data.start_date : today();
    await sync.save('course', course.id, body);
    announce(S.courseEnded(course.data.name));
    await refresh();
  }

  async function load() {
    courses = (await sync.records('course')).sort((a, b) => b.data.start_date.localeCompare(a.data.start_date));
  }

  async function refresh() {
    const before = courses.map((c) => c.id).join();
    await load();
    if (courses.map((c) => c.id).join() !== before && !sessionHost.contains(document.activeElement)) await renderSessionForm();
    await renderList();
  }

  (async () => {
    await load();
    renderCourseForm();
    await renderSessionForm();
    await renderList();
  })();
  return { refresh };
}
