// The clinician's side: link a patient with a share code, the patient list (in the API's
// attention order) and one patient's report with chart, course summaries, recent entries,
// and CSV / FHIR downloads.
import * as api from '../api.js';
import { S, CONDITIONS } from '../strings.js';
import { h, field, replace, announce, download, formatDate, formatLongDate, number1 } from '../dom.js';
import { chartImage, weeklyTable } from './summary.js';

const patientName = (patient) => patient.display_name || S.unnamedPatient(patient.patient_id ?? patient.id);

export function patientsScreen(main, { navigate }) {
  const code = h('input', { type: 'text', required: true, autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' });
  const error = h('p', { class: 'error', role: 'alert' });
  const list = h('section', { 'aria-labelledby': 'patients-heading' });

  async function link(event) {
    event.preventDefault();
    error.textContent = '';
    const value = code.value.trim();
    if (!value) {
      error.textContent = S.enterCode;
      return;
    }
    try {
      const linked = await api.json('POST', '/v1/links', { code: value });
      code.value = '';
      announce(S.patientLinked(patientName(linked)));
      await load();
    } catch (failure) {
      if (failure instanceof api.Offline) error.textContent = S.needConnection;
      else if (failure instanceof api.ApiError && failure.status === 404) error.textContent = S.codeNotFound;
      else error.textContent = S.somethingWrong;
    }
  }

  async function load() {
    try {
      const page = await api.getJson('/v1/patients?sort=attention&limit=500');
      replace(list,
        h('h2', { id: 'patients-heading' }, S.yourPatients),
        page.items.length === 0 ? h('p', { class: 'empty' }, S.noPatients) : null,
        h('ul', { class: 'patients' }, page.items.map((patient) => {
          const course = patient.active_course;
          return h('li', {},
            h('a', { class: 'patient-link', href: `#/patients/${patient.patient_id}` },
              h('span', { class: 'patient-name' }, patientName(patient)),
              h('span', { class: 'entry-facts' }, patient.last_entry_date ? S.lastEntry(formatDate(patient.last_entry_date)) : S.noEntriesYet),
              h('span', { class: 'entry-facts' }, S.pain7d(number1(patient.pain_7d_mean))),
              course ? h('span', { class: 'entry-facts' }, S.activeCourse(course.name, course.reduction_pct, course.category)) : null,
              (patient.attention ?? []).length ? h('span', { class: 'badge warn' }, patient.attention.map(S.attentionLabel).join(', ')) : null));
        })));
    } catch (failure) {
      replace(list, h('h2', { id: 'patients-heading' }, S.yourPatients), h('p', { class: 'notice' }, failure instanceof api.Offline ? S.needConnection : S.somethingWrong));
    }
  }

  replace(main,
    h('h1', {}, S.patientsTitle),
    h('section', { class: 'card', 'aria-labelledby': 'link-heading' },
      h('h2', { id: 'link-heading' }, S.linkTitle),
      h('form', { class: 'stack', onsubmit: link },
        field(S.shareCode, code, { hint: S.shareCodeHint }),
        error,
        h('button', { type: 'submit', class: 'primary' }, S.linkPatient))),
    list);
  load();
  return { refresh: load };
}

function courseSection(item) {
  const { course, summary } = item;
  const facts = [
    [S.baseline, summary.baseline ? `${number1(summary.baseline.pain_mean)} (${summary.baseline_method === 'early_course' ? S.earlyCourse : S.preCourse})` : '–'],
    [S.current7d, summary.current ? number1(summary.current.pain_mean) : '–'],
    [S.change, summary.reduction_pct === null ? '–' : `${number1(summary.reduction_pct)} % (${S.categoryLabel(summary.category)})`],
    [S.responder, summary.responder === null ? '–' : summary.responder ? S.yes : S.no],
    [S.followUp, summary.follow_up_reduction_pct === null ? '–' : `${number1(summary.follow_up_reduction_pct)} %${summary.sustained ? ` (${S.sustained})` : ''}`],
    [S.trend, summary.trend ? S.trendText(summary.trend) : '–'],
    [S.sessionsLabel, `${summary.sessions_completed}${summary.planned_sessions ? ` / ${summary.planned_sessions}` : ''}, ${S.meanRelief} ${number1(summary.mean_relief)}`],
    [S.timeToResponse, summary.time_to_response_days === null ? '–' : S.days(summary.time_to_response_days)],
    [S.adherence, summary.adherence_pct === null ? '–' : `${Math.round(summary.adherence_pct)} %`],
    ...summary.factors.map((factor) => [S.factorLabel(factor.factor), S.factorText(factor)]),
  ];
  const condition = CONDITIONS.find(([value]) => value === course.condition)?.[1] ?? course.condition;
  return h('section', { class: 'card', 'aria-labelledby': `course-${course.id}` },
    h('h3', { id: `course-${course.id}` }, course.name),
    h('p', { class: 'entry-facts' }, `${condition} · ${formatLongDate(course.start_date)}${course.end_date ? ` – ${formatLongDate(course.end_date)}` : ''}`),
    h('dl', { class: 'facts' }, facts.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
    summary.warnings.length ? h('p', { class: 'hint' }, `${S.warnings}: ${summary.warnings.join(', ')}`) : null,
    weeklyTable(summary.weekly, S.weeklyCaptionOf(course.name)));
}

export function reportScreen(main, { patientId }) {
  const body = h('div', { class: 'stack' });
  const heading = h('h1', {}, S.reportTitle);
  const error = h('p', { class: 'error', role: 'alert' });
  let release = () => {};
  let disposed = false;
  const base = `/v1/patients/${patientId}`;

  async function save(path, accept, filename, button) {
    error.textContent = '';
    button.disabled = true;
    try {
      download(await api.blob(path, accept), filename);
      announce(S.downloaded(filename));
    } catch (failure) {
      error.textContent = failure instanceof api.Offline ? S.needConnection : S.somethingWrong;
    } finally {
      button.disabled = false;
    }
  }

  replace(main,
    h('p', {}, h('a', { href: '#/patients', class: 'back' }, S.allPatients)),
    heading,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: (event) => save(`${base}/entries.csv`, 'text/csv', `paindiary-${patientId}.csv`, event.currentTarget) }, S.downloadCsv),
      h('button', { type: 'button', class: 'secondary', onclick: (event) => save(`${base}/report`, 'application/fhir+json', `paindiary-${patientId}.fhir.json`, event.currentTarget) }, S.downloadFhir)),
    error,
    body);

  (async () => {
    try {
      const report = await api.getJson(`${base}/report`);
      const chart = report.courses.length ? await chartImage(`${base}/report/chart.svg`, S.chartAlt(report.courses[0].course.name)) : null;
      if (disposed) {
        chart?.dispose();
        return;
      }
      release = chart ? chart.dispose : () => {};
      heading.textContent = S.reportOf(report.patient.display_name || S.unnamedPatient(report.patient.id));
      document.title = `${heading.textContent} – ${S.appName}`;
      const entries = report.recent_entries;
      replace(body,
        chart ? h('section', { class: 'card', 'aria-labelledby': 'chart-heading' }, h('h2', { id: 'chart-heading' }, S.reportChartTitle), chart.image) : null,
        h('section', { 'aria-labelledby': 'report-courses' },
          h('h2', { id: 'report-courses' }, S.courseSummaries),
          report.courses.length ? report.courses.map(courseSection) : h('p', { class: 'empty' }, S.noCourses)),
        h('section', { class: 'card', 'aria-labelledby': 'recent-heading' },
          h('h2', { id: 'recent-heading' }, S.recentEntries),
          entries.length === 0 ? h('p', { class: 'empty' }, S.noEntries) : h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': S.recentEntries },
            h('table', {},
              h('caption', { class: 'visually-hidden' }, S.recentEntries),
              h('thead', {}, h('tr', {}, [S.date, S.pain, S.sleepHours, S.stress, S.tags].map((title) => h('th', { scope: 'col' }, title)))),
              h('tbody', {}, entries.map((entry) => h('tr', {},
                h('th', { scope: 'row' }, formatDate(entry.local_date)),
                h('td', {}, String(entry.pain)),
                h('td', {}, entry.sleep_hours ?? '–'),
                h('td', {}, entry.stress ?? '–'),
                h('td', {}, (entry.tags ?? []).join(', ')))))))));
    } catch (failure) {
      replace(body, h('p', { class: 'notice' }, failure instanceof api.Offline ? S.needConnection : S.somethingWrong));
    }
  })();
  return { dispose: () => { disposed = true; release(); } };
}
