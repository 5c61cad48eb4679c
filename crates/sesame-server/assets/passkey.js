// Passkeys at sesame serve: the WebAuthn ceremony, the only script its pages
// run. A form marked #passkey-signin or #passkey-register gets its options
// from data-options (POST, with the page's CSRF token), asks the browser for
// a credential, and submits it as the form's `credential` field (JSON).
(function () {
  'use strict';
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
    return;
  }
  function options(form) {
    return fetch(form.dataset.options, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-Sesame-CSRF': form.dataset.csrf },
    }).then(function (r) {
      if (!r.ok) { throw new Error('options: ' + r.status); }
      return r.json();
    });
  }
  function submit(form, credential) {
    form.elements.credential.value = JSON.stringify(credential.toJSON());
    form.submit();
  }
  function failed(form, e) {
    var p = form.querySelector('.passkey-error');
    if (!p) {
      p = document.createElement('p');
      p.className = 'error passkey-error';
      p.setAttribute('role', 'alert');
      form.appendChild(p);
    }
    p.textContent = e && e.name === 'NotAllowedError'
      ? 'The passkey request was cancelled or timed out.'
      : 'That did not work: ' + (e && e.message ? e.message : e);
  }
  var signin = document.getElementById('passkey-signin');
  if (signin) {
    // One ceremony per page: the conditional request and the button share
    // its options (one challenge, one cookie); a failure starts a new one.
    var pending = null;
    var conditional = null;
    var signinOptions = function () {
      if (!pending) { pending = options(signin); }
      return pending;
    };
    var button = document.getElementById('passkey-button');
    button.hidden = false;
    button.addEventListener('click', function () {
      if (conditional) { conditional.abort(); conditional = null; }
      signinOptions().then(function (json) {
        return navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(json) });
      }).then(function (c) { submit(signin, c); }, function (e) { pending = null; failed(signin, e); });
    });
    // Conditional UI: passkeys offered in the username field's autofill.
    if (signin.dataset.conditional === '1' && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (yes) {
        if (!yes) { return; }
        conditional = new AbortController();
        var signal = conditional.signal;
        signinOptions().then(function (json) {
          return navigator.credentials.get({
            mediation: 'conditional',
            signal: signal,
            publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(json),
          });
        }).then(function (c) { if (c) { submit(signin, c); } }, function () {});
      });
    }
  }
  var register = document.getElementById('passkey-register');
  if (register) {
    var add = document.getElementById('passkey-add');
    add.hidden = false;
    add.addEventListener('click', function () {
      options(register).then(function (json) {
        return navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(json) });
      }).then(function (c) { submit(register, c); }, function (e) { failed(register, e); });
    });
  }
})();
