// Calls to the mechscope server. The server traded the URL's ?token=... for an HttpOnly session cookie when
// the page was first opened, and the browser sends that cookie with every request; a token still in the URL
// (a page served without the trade) goes in a header. A failed request throws an Error whose message is the
// server's one line.

export const token = new URLSearchParams(window.location.search).get("token") || "";

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, {
      ...options,
      credentials: "same-origin",
      headers: { ...(token ? { "X-Mechscope-Token": token } : {}), "Content-Type": "application/json",
                 ...(options.headers || {}) },
    });
  } catch (err) {
    throw new Error(`the mechscope server does not answer (${err.message}); is \`mechscope serve\` still running?`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new Error((body && body.error) || `the server answered ${response.status} ${response.statusText}`);
  }
  return body;
}

export const get = (path) => request(path);
export const post = (path, data) => request(path, { method: "POST", body: JSON.stringify(data ?? {}) });

/** A link to one of an entry's files (opened in a new tab: the session cookie goes with it). */
export function fileUrl(kind, name, file) {
  const parts = [kind, name].map(encodeURIComponent).join("/");
  return `/api/entries/${parts}/files/${file.split("/").map(encodeURIComponent).join("/")}`;
}

export const enc = encodeURIComponent;

/** Start a job and follow it: `onUpdate(job)` on every poll; resolves with the finished job. */
export async function runJob(kind, params, onUpdate, pollMs = 700) {
  let job = await post("/api/jobs", { kind, params });
  onUpdate(job);
  while (job.state === "running") {
    await new Promise((r) => setTimeout(r, pollMs));
    job = await get(`/api/jobs/${job.id}`);
    onUpdate(job);
  }
  return job;
}
