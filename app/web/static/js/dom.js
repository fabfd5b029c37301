// Building the page with DOM calls (no innerHTML: the strict CSP and user-typed text).
import { LOCALE } from './strings.js';

let counter = 0;
export const nextId = (prefix = 'f') => `${prefix}-${++counter}`;

const PROPERTIES = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'required']);

/** An element: `h('button', {class: 'primary', onclick: save}, 'Save')`. Attributes that are
 * null, undefined or false are left out; `value`/`checked`… are set as properties after the
 * children (a select's value needs its options). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  const properties = [];
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (PROPERTIES.has(name)) {
      properties.push([name, value]);
    } else if (name === 'class') {
      element.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  for (const [name, value] of properties) element[name] = value;
  return element;
}

export function append(element, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

/** A labelled form field: the visible label is the control's accessible name. */
export function field(label, control, { hint, className } = {}) {
  if (!control.id) control.id = nextId();
  let hintElement = null;
  if (hint) {
    hintElement = h('p', { class: 'hint', id: `${control.id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintElement.id);
  }
  return h('div', { class: ['field', className] }, h('label', { for: control.id }, label), hintElement, control);
}

/** A group of radio buttons named by a visible legend. */
export function radioGroup(legend, name, options, checked, { className } = {}) {
  return h(
    'fieldset',
    { class: ['radios', className] },
    h('legend', {}, legend),
    options.map(([value, label]) => {
      const id = nextId('r');
      return h(
        'div',
        { class: 'radio' },
        h('input', { type: 'radio', id, name, value, checked: value === checked }),
        h('label', { for: id }, label),
      );
    }),
  );
}

export function select(options, value, attrs = {}) {
  return h('select', { ...attrs, value: value ?? '' }, options.map(([v, label]) => h('option', { value: v }, label)));
}

export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node so that a repeated message is read again.
  requestAnimationFrame(() => { region.textContent = message; });
}

// --- formatting ---------------------------------------------------------------------

const dateFormat = new Intl.DateTimeFormat(LOCALE, { weekday: 'short', day: 'numeric', month: 'short' });
const longDateFormat = new Intl.DateTimeFormat(LOCALE, { day: 'numeric', month: 'short', year: 'numeric' });
const timeFormat = new Intl.DateTimeFormat(LOCALE, { hour: '2-digit', minute: '2-digit' });

/** "Sun 6 Dec" for a "YYYY-MM-DD" calendar date (no time zone involved). */
export function formatDate(localDate) {
  const [y, m, d] = localDate.split('-').map(Number);
  return dateFormat.format(new Date(y, m - 1, d));
}

export function formatLongDate(localDate) {
  const [y, m, d] = localDate.split('-').map(Number);
  return longDateFormat.format(new Date(y, m - 1, d));
}

/** The time of day as written in the timestamp's own offset ("10:00" for …T10:00+01:00). */
export function formatClock(timestamp) {
  const match = /T(\d\d):(\d\d)/.exec(timestamp);
  return match ? `${match[1]}:${match[2]}` : '';
}

export function formatDateTime(timestamp) {
  const date = new Date(timestamp);
  return `${longDateFormat.format(date)}, ${timeFormat.format(date)}`;
}

export const number1 = (value) => (value === null || value === undefined ? '–' : Number(value).toFixed(1));

/** An RFC 3339 timestamp with this device's current offset, e.g. 2026-12-06T20:15:00+01:00. */
export function localTimestamp(date = new Date()) {
  const pad = (n) => String(Math.abs(n)).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}

/** The value for an <input type="datetime-local"> from a timestamp (its own wall clock). */
export const toLocalInput = (timestamp) => timestamp.slice(0, 16);

/** A timestamp with offset from an <input type="datetime-local"> value. */
export function fromLocalInput(value) {
  return localTimestamp(new Date(value));
}

export function today() {
  return localTimestamp().slice(0, 10);
}

export function addDays(localDate, days) {
  const [y, m, d] = localDate.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d + days));
  return date.toISOString().slice(0, 10);
}

/** Opens a Blob as a file download (CSV, FHIR). */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename, class: 'visually-hidden' });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
