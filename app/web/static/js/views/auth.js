// Sign in and create account. The role is a radio group named "Role"; the time zone is the
// browser's own.
import * as api from '../api.js';
import { S } from '../strings.js';
import { field, h, radioGroup, replace } from '../dom.js';

// What was typed stays when switching between signing in and creating an account.
const draft = { email: '', password: '' };

function problemMessage(error) {
  if (error instanceof api.Offline) return S.offlineSignIn;
  if (error instanceof api.ApiError) {
    if (error.status === 401) return S.wrongCredentials;
    if (error.status === 409) return S.emailTaken;
    if (error.status === 429) return S.tooManyAttempts;
    if (error.status === 422) {
      const first = error.problem?.errors?.[0];
      return first ? `${S.checkField}: ${first.msg}` : S.checkFields;
    }
  }
  return S.somethingWrong;
}

export function authScreen(main, { mode, signedIn, navigate }) {
  const creating = mode === 'create';
  const email = h('input', {
    type: 'email', name: 'email', autocomplete: 'username', required: true, value: draft.email,
    oninput: (event) => { draft.email = event.target.value; },
  });
  const password = h('input', {
    type: 'password', name: 'password', required: true, value: draft.password,
    autocomplete: creating ? 'new-password' : 'current-password', minlength: creating ? 10 : null,
    oninput: (event) => { draft.password = event.target.value; },
  });
  const name = h('input', { type: 'text', name: 'display_name', autocomplete: 'name', maxlength: 200 });
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, creating ? S.createAccount : S.signIn);

  async function onSubmit(event) {
    event.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      if (creating) {
        const role = event.target.querySelector('input[name="role"]:checked').value;
        await api.register({
          email: email.value.trim(),
          password: password.value,
          role,
          display_name: name.value.trim() || undefined,
          timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
        });
      }
      await api.signIn(email.value.trim(), password.value);
      draft.password = '';
      await signedIn();
    } catch (failure) {
      error.textContent = problemMessage(failure);
      submit.disabled = false;
    }
  }

  const form = h(
    'form',
    { class: 'card stack', onsubmit: onSubmit, novalidate: false },
    field(S.email, email),
    field(S.password, password, { hint: creating ? S.passwordHint : null }),
    creating ? radioGroup(S.role, 'role', [['patient', S.patient], ['clinician', S.clinician]], 'patient', { className: 'inline' }) : null,
    creating ? field(S.yourName, name, { hint: S.yourNameHint }) : null,
    error,
    submit,
  );

  replace(
    main,
    h('div', { class: 'auth' },
      h('div', { class: 'brand' }, h('img', { src: '/app/icons/icon-192.png', alt: '', width: 56, height: 56 }), h('p', { class: 'brand-name' }, S.appName)),
      h('h1', { tabindex: -1 }, creating ? S.createAccount : S.signInTitle),
      h('p', { class: 'lead' }, creating ? S.createLead : S.signInLead),
      form,
      h('div', { class: 'switch' },
        h('p', {}, creating ? S.haveAccount : S.newHere),
        h('button', { type: 'button', class: 'secondary', onclick: () => navigate(creating ? '#/signin' : '#/create') },
          creating ? S.backToSignIn : S.createAccount),
      ),
    ),
  );
  return {};
}
