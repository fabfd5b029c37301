// The course summary in plain words for the patient (no statistics jargon), the chart and
// the weekly means. Needs the network: summaries are computed by the server.
import * as api from '../api.js';
import * as sync from '../sync.js';
import { S } from '../strings.js';
import { h, field, replace, select, formatDate, number1 } from '../dom.js';

/** The summary read aloud: a list of sentences derived from its fields. */
export function plainReading(summary) {
  const sentences = [];
  const baseline = summary.baseline;
  const current = summary.current;
  if (!baseline) sentences.push(S.readNoBaseline);
  else if (!current) sentences.push(S.readNoRecent(number1(baseline.pain_mean)));
  else if (summary.reduction_pct === null) sentences.push(S.readZeroBaseline(number1(current.pain_mean)));
  else {
    let held = null;
    if (summary.follow_up && summary.sustained !== null) held = summary.sustained ? S.readHeld : S.readNotHeld;
    sentences.push(S.readChange({
      pct: Math.round(Math.abs(summary.reduction_pct)),
      down: summary.reduction_pct > 0,
      baseline: number1(baseline.pain_mean),
      current: number1(current.pain_mean),
      category: summary.category,
      early: summary.baseline_method === 'early_course',
      held,
    }));
  }
  if (summary.trend) sentences.push(S.readTrend[summary.trend.direction]);
  if (summary.time_to_response_days !== null) sentences.push(S.readResponse(summary.time_to_response_days));
  if (summary.sessions_completed) {
    sentences.push(S.readSessions(summary.sessions_completed, summary.planned_sessions, summary.mean_relief));
  }
  if (summary.adherence_pct !== null) sentences.push(S.readAdherence(Math.round(summary.adherence_pct)));
  return sentences;
}

/** An <img> of the report chart, fetched with the bearer token and shown from a blob URL. */
export async function chartImage(path, alt) {
  const blob = await api.blob(path);
  const url = URL.createObjectURL(blob);
  const image = h('img', { class: 'chart', src: url, alt, width: 800, height: 400 });
  return { image, dispose: () => URL.revokeObjectURL(url) };
}

export function weeklyTable(weekly, caption) {
  const rows = weekly.filter((week) => week.days_with_data > 0 || week.week >= 0);
  return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, S.week), h('th', { scope: 'col' }, S.average),
        h('th', { scope: 'col' }, S.range), h('th', { scope: 'col' }, S.daysRecorded))),
      h('tbody', {}, rows.map((week) => h('tr', {},
        h('th', { scope: 'row' }, week.week < 0 ? S.weekBefore : S.weekLabel(week.week + 1, formatDate(week.start))),
        h('td', {}, number1(week.pain_mean)),
        h('td', {}, week.pain_min === null ? '–' : `${number1(week.pain_min)}–${number1(week.pain_max)}`),
        h('td', {}, String(week.days_with_data)))))));
}

export function summaryScreen(main) {
  const body = h('div', { class: 'stack' });
  const picker = h('div');
  replace(main, h('h1', {}, S.summaryTitle), picker, body);
  let release = () => {};
  let chosen = null;
  let disposed = false;

  async function show(course) {
    release();
    release = () => {};
    replace(body, h('p', { class: 'muted' }, S.loading));
    try {
      const summary = await api.getJson(`/v1/patients/me/courses/${course.id}/summary`);
      const chart = await chartImage(`/v1/patients/me/report/chart.svg?course_id=${course.id}`, S.chartAlt(course.data.name));
      if (disposed) {
        chart.dispose();
        return;
      }
      release = chart.dispose;
      replace(body,
        h('section', { class: 'card reading', 'aria-labelledby': 'reading-heading' },
          h('h2', { id: 'reading-heading' }, course.data.name),
          plainReading(summary).map((sentence, index) => h('p', { class: index === 0 && summary.reduction_pct !== null && summary.current ? 'headline' : null }, sentence))),
        h('section', { class: 'card', 'aria-labelledby': 'chart-heading' },
          h('h2', { id: 'chart-heading' }, S.chartTitle),
          chart.image,
          h('p', { class: 'hint' }, S.chartHint)),
        h('section', { class: 'card', 'aria-labelledby': 'weekly-heading' },
          h('h2', { id: 'weekly-heading' }, S.weeklyTitle),
          weeklyTable(summary.weekly, S.weeklyCaption)));
    } catch (error) {
      if (error instanceof api.Offline) replace(body, h('p', { class: 'notice' }, S.summaryOffline));
      else if (error instanceof api.ApiError && error.status === 404) replace(body, h('p', { class: 'notice' }, S.courseNotUploaded));
      else replace(body, h('p', { class: 'notice' }, S.somethingWrong));
    }
  }

  async function load() {
    const courses = (await sync.records('course')).sort((a, b) => b.data.start_date.localeCompare(a.data.start_date));
    if (!courses.length) {
      replace(picker);
      replace(body, h('p', { class: 'notice' }, S.noCoursesSummary));
      return;
    }
    if (!chosen || !courses.some((course) => course.id === chosen)) chosen = courses[0].id;
    if (courses.length > 1) {
      const choice = select(courses.map((course) => [course.id, course.data.name]), chosen, {
        onchange: (event) => {
          chosen = event.target.value;
          show(courses.find((course) => course.id === chosen));
        },
      });
      replace(picker, field(S.course, choice));
    } else replace(picker);
    await show(courses.find((course) => course.id === chosen));
  }

  load();
  return {
    dispose: () => {
      disposed = true;
      release();
    },
  };
}
