"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("durin-signin");
  const error = document.getElementById("durin-error");
  const button = form.querySelector("button");
  const show = (text) => { error.textContent = text; error.hidden = false; };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    button.disabled = true;
    const data = new FormData(form);
    try {
      const answer = await fetch(form.dataset.login, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(Object.assign(
          { username: data.get("username"), password: data.get("password"), client: form.dataset.client },
          // The steps after the password, sent once the service asked for them.
          data.get("otp") ? { otp: data.get("otp") } : {},
          data.get("new_password") ? { new_password: data.get("new_password") } : {})),
      });
      let body = {};
      try { body = await answer.json(); } catch (_) { body = {}; }
      if (answer.ok && !("token" in body)) {
        const next = new URL(form.dataset.next, window.location.origin);
        window.location.assign(next.origin === window.location.origin ? next.pathname + next.search + next.hash : "/");
        return;
      }
      // A new password or a second factor asked for: its field appears, with words
      // for a person rather than the API's.
      const steps = {
        password_change_required: ["durin-new-password", "Your password must be changed: choose a new one."],
        otp_required: ["durin-otp", "Enter the one-time code from your authenticator app."],
        otp_invalid: ["durin-otp", "That code is not right, or was used already: enter the current one."],
      };
      if (steps[body.code]) {
        const [id, text] = steps[body.code];
        const step = document.getElementById(id);
        step.hidden = false;
        step.querySelector("input").required = true;
        if (body.code === "otp_invalid") step.querySelector("input").value = "";
        step.querySelector("input").focus();
        show(text);
        return;
      }
      if (answer.ok) {
        show("This sign-in is not set up for browsers: its client needs durinctl client set NAME --cookie.");
      } else {
        const first = body.detail || (body.non_field_errors || [])[0] || Object.values(body).flat()[0];
        show(typeof first === "string" ? first : "Sign-in failed (" + answer.status + ").");
      }
    } catch (_) {
      show("The sign-in service cannot be reached. Try again shortly.");
    } finally {
      button.disabled = false;
    }
  });
});
