"""The page's CSS and the small script behind clickable [n]. Kept as strings (no package data to install).
Colours are variables with a dark-mode set (gradio puts `dark` on <body>); below 900 px the side panel gives
way to each answer's own folded sources, and wide content (tables) scrolls inside its message."""

from __future__ import annotations

WIDE = 900  # px: from here up the sources panel sits beside the chat

# Hand-written because no gradio option does it: a click on [n] in answer i shows answer i's source n. The
# cards are already in the message (folded); on wide screens they are copied into the side panel (a
# "back to the latest answer" bar appears when it is an older one), on narrow ones the message's own list opens.
JS = r"""
() => {
  if (window.__paperRagCites) return;
  window.__paperRagCites = true;
  const MAX_K = __MAX_K__;
  const answers = () => Array.from(document.querySelectorAll('#chat [data-testid="bot"]'))
    .filter(m => m.querySelector('.ans-sources'));
  const panelRoot = () => document.querySelector('#sources .src-panel, #sources .src-empty, #sources .src-error');
  const focusCard = (box, n) => {
    document.querySelectorAll('.src-card.src-focus').forEach(c => c.classList.remove('src-focus'));
    const card = Array.from(box.querySelectorAll('.src-card'))
      .find(c => (c.querySelector('.src-n') || {}).textContent === String(n));
    if (card) {  // scroll the panel (or the chat), not the page
      card.classList.add('src-focus');
      const pane = card.closest('#sources') || card.closest('[role="log"]');
      if (pane) pane.scrollTop += card.getBoundingClientRect().top - pane.getBoundingClientRect().top - 8;
    }
    return card;
  };
  const showIn = (msg, n) => {
    const own = msg.querySelector('.ans-sources .src-panel');
    const root = panelRoot();
    if (!own) return;
    if (root && root.offsetParent !== null) {
      const all = answers();
      const i = all.indexOf(msg);
      const older = i >= 0 && i < all.length - 1;
      const bar = older ? '<div class="src-pinned">Answer ' + (i + 1) + ' of ' + all.length +
        ' <button type="button" class="src-back">Back to the latest answer</button></div>' : '';
      root.className = 'src-panel' + (older ? ' is-pinned' : '');
      root.innerHTML = bar + own.innerHTML;
      if (n !== null) focusCard(root, n);
      else document.querySelector('#sources').scrollTop = 0;
    } else {
      const details = msg.querySelector('.ans-sources');
      details.open = true;
      if (n !== null) focusCard(details, n);
    }
  };
  const onCite = (el) => {
    const msg = el.closest('[data-testid="bot"]');
    const n = parseInt(el.textContent.replace(/\D/g, ''), 10);
    if (msg && !Number.isNaN(n)) showIn(msg, n);
  };
  // A refused question's notice lands at the end of the chat: bring it into view even when the reader had
  // scrolled up (the chat only follows new messages when it is already at the bottom).
  new MutationObserver(() => {
    const notice = document.querySelector('#chat .chat-notice:not(.seen)');
    if (!notice) return;
    notice.classList.add('seen');
    const log = notice.closest('[role="log"]');
    if (log) log.scrollTop = log.scrollHeight;
  }).observe(document.body, {childList: true, subtree: true});
  document.addEventListener('click', (e) => {
    const t = e.target instanceof Element ? e.target : null;
    if (!t) return;
    const cite = t.closest('#chat .cite');
    if (cite) { e.preventDefault(); e.stopPropagation(); onCite(cite); return; }
    if (t.closest('#sources .src-back')) {
      const all = answers();
      if (all.length) showIn(all[all.length - 1], null);
    }
  }, true);
  // The number box beside the slider: gradio refuses an out-of-range value with an error that covers the
  // outputs, so it is corrected here as it is typed (before gradio reads it), with a message saying so.
  document.addEventListener('input', (e) => {
    const t = e.target;
    if (!(t instanceof HTMLInputElement) || !t.matches('#k input[type="number"]')) return;
    const note = document.querySelector('#k-note .k-msg');
    const raw = t.value.trim();
    const num = Number(raw);
    if (raw === '' || (Number.isInteger(num) && num >= 0 && num <= MAX_K)) {
      if (note) note.textContent = '';
      return;
    }
    const fixed = Number.isFinite(num) ? Math.min(MAX_K, Math.max(0, Math.round(num))) : 0;
    t.value = String(fixed);
    if (note) note.textContent = 'Number of sources must be a whole number from 0 (automatic) to ' + MAX_K +
      '; ' + raw + ' was changed to ' + fixed + '.';
  }, true);
  document.addEventListener('keydown', (e) => {
    const t = e.target instanceof Element ? e.target : null;
    if (t && (e.key === 'Enter' || e.key === ' ') && t.matches('#chat .cite')) { e.preventDefault(); onCite(t); }
  }, true);
}
"""

CSS = """
:root, .light {
  --pr-warn-bg: #fffbeb; --pr-warn-border: #f59e0b; --pr-warn-text: #78350f;
  --pr-err-bg: #fef2f2; --pr-err-border: #dc2626; --pr-err-text: #7f1d1d;
  --pr-note-bg: #eff6ff; --pr-note-border: #3b82f6; --pr-note-text: #1e3a8a;
  --pr-tag-bg: #e0e7ff; --pr-tag-text: #3730a3;
  --pr-mark-bg: #fdf0a6; --pr-mark-text: #1c1917;
  --pr-cite: #4338ca; --pr-cite-hover: #e0e7ff; --pr-n-bg: #4f46e5; --pr-n-text: #ffffff;
  --pr-badge-bg: #f1f5f9; --pr-badge-text: #334155; --pr-badge-border: #cbd5e1;
  --pr-llm-bg: #eef2ff; --pr-llm-text: #3730a3; --pr-llm-border: #c7d2fe;
  --pr-focus: #6366f1; --pr-focus-bg: #eef2ff; --pr-quote-border: #c7d2fe;
}
.dark {
  --pr-warn-bg: #2b2111; --pr-warn-border: #f59e0b; --pr-warn-text: #fde68a;
  --pr-err-bg: #2c1517; --pr-err-border: #f87171; --pr-err-text: #fecaca;
  --pr-note-bg: #14213d; --pr-note-border: #60a5fa; --pr-note-text: #bfdbfe;
  --pr-tag-bg: #312e81; --pr-tag-text: #e0e7ff;
  --pr-mark-bg: #713f12; --pr-mark-text: #fef9c3;
  --pr-cite: #a5b4fc; --pr-cite-hover: #312e81; --pr-n-bg: #6366f1; --pr-n-text: #ffffff;
  --pr-badge-bg: #1e293b; --pr-badge-text: #e2e8f0; --pr-badge-border: #475569;
  --pr-llm-bg: #1e1b4b; --pr-llm-text: #c7d2fe; --pr-llm-border: #4338ca;
  --pr-focus: #818cf8; --pr-focus-bg: #1e1b4b; --pr-quote-border: #4338ca;
}
.gradio-container { max-width: min(1360px, 100%) !important; margin: 0 auto !important; }
/* gradio scopes rules inside @media to its content, so the page padding shrinks on phones this way */
.gradio-container .app { padding: 12px clamp(8px, 3vw, 32px) !important; }
/* Flex items default to min-width: auto, so one wide table used to widen the whole page on phones. */
.gradio-container, .gradio-container .main, .gradio-container .contain, .gradio-container .wrap,
#tabs, #chat-tab, #collection-tab, .main-row, #chat-col, #sources-col, #chat, #chat .wrapper, #chat .message-wrap,
#chat .message-row, #chat .flex-wrap, #chat .message, .top-row, .top-row > * { min-width: 0 !important; }
#chat .message-row, #chat .message { max-width: 100%; }
.top-row { align-items: center; flex-wrap: nowrap !important; gap: .4rem 1rem !important; }
.top-row > .header-html { flex: 1 1 auto !important; }
.top-row > .badge-html { flex: 0 1 auto !important; width: auto !important; }
.app-header h1 { font-size: 1.45rem; font-weight: 700; margin: 0 0 .1rem; letter-spacing: -.01em; }
.app-header p { margin: 0; color: var(--body-text-color-subdued); font-size: .9rem; max-width: 860px; }
.index-warn { margin-top: .5rem; padding: .45rem .7rem; border-radius: 6px; background: var(--pr-warn-bg);
  color: var(--pr-warn-text); font-size: .9rem; }
.badge-html { display: flex; justify-content: flex-end; }
.mode-badge { font-size: .8rem; font-weight: 600; padding: .25rem .7rem; border-radius: 999px;
  border: 1px solid; white-space: nowrap; max-width: 100%; overflow: hidden; text-overflow: ellipsis; }
.mode-extractive { background: var(--pr-badge-bg); color: var(--pr-badge-text); border-color: var(--pr-badge-border); }
.mode-llm { background: var(--pr-llm-bg); color: var(--pr-llm-text); border-color: var(--pr-llm-border); }
.main-row { align-items: flex-start; }
#chat .message-content { font-size: .95rem; color: var(--body-text-color); overflow-wrap: anywhere; }
#chat .message-content table { display: block; max-width: 100%; overflow-x: auto; font-size: .82rem; }
#chat td, #chat th { overflow-wrap: normal !important; word-break: normal !important; vertical-align: top; }
#chat td:first-child { min-width: 9rem; font-weight: 600; }
#chat .placeholder-content { display: flex; justify-content: center; }
#chat .ph { max-width: 520px; text-align: center; color: var(--body-text-color-subdued); }
#chat .ph h3 { color: var(--body-text-color); margin: 0 0 .4rem; font-size: 1.15rem; }
#chat .ph p { margin: 0; font-size: .92rem; }
#chat .abstain { border-left: 4px solid var(--pr-warn-border); background: var(--pr-warn-bg);
  color: var(--pr-warn-text); padding: .2rem .8rem; border-radius: 6px; }
#chat .abstain * { color: inherit; }
#chat .chat-error, #chat .chat-notice, #chat .notice { padding: .45rem .8rem; border-radius: 6px; }
#chat .attr-note, #chat .waiting { font-size: .85em; opacity: .8; font-style: italic; }
#chat .chat-error { border-left: 4px solid var(--pr-err-border); background: var(--pr-err-bg);
  color: var(--pr-err-text); }
#chat .chat-notice, #chat .notice { border-left: 4px solid var(--pr-note-border); background: var(--pr-note-bg);
  color: var(--pr-note-text); }
#chat .chat-error *, #chat .chat-notice *, #chat .notice * { color: inherit; }
.cite { color: var(--pr-cite); font-weight: 600; cursor: pointer; border-radius: 4px; padding: 0 .05rem;
  white-space: nowrap; }
.cite:hover, .cite:focus-visible { background: var(--pr-cite-hover); outline: none; text-decoration: underline; }
.ans-sources { margin-top: .6rem; border-top: 1px solid var(--border-color-primary); padding-top: .4rem; }
.ans-sources > summary { cursor: pointer; font-weight: 600; font-size: .88rem; color: var(--pr-cite); }
.ans-sources .src-panel { margin-top: .5rem; }
.ans-sources .src-q, .ans-sources .src-head { display: none; }
.wide-only, .narrow-only { display: none; }
@media (min-width: 900px) {
  .ans-sources { display: none; }
  .wide-only { display: inline; }
}
@media (max-width: 899.98px) {
  #sources-col { display: none !important; }
  .narrow-only { display: inline; }
  .main-row { flex-direction: column; align-items: stretch !important; }
  #chat-col { width: 100% !important; max-width: 100% !important; }
  .app-header p { display: none; }
  .tools-row .form { flex-wrap: wrap !important; }
  .tools-row .form > #k { flex: 1 1 100% !important; }
  .app-header h1 { font-size: 1.2rem; }
  .top-row { flex-wrap: wrap !important; }
}
.ask-row { align-items: stretch; flex-wrap: nowrap !important; gap: .5rem !important; }
.ask-row > :first-child { min-width: 0 !important; }
.tools-row { align-items: center; flex-wrap: wrap !important; gap: .5rem !important; }
.tools-row > .form { flex: 1 1 340px !important; min-width: 0 !important; }
.tools-row > button { flex: 0 0 auto !important; min-width: 84px !important; align-self: stretch; }
.k-msg { font-size: .85rem; color: var(--pr-err-text); background: var(--pr-err-bg); border-radius: 6px;
  padding: .3rem .6rem; }
.k-msg:empty { display: none; }
#sources { max-height: calc(100vh - 170px); overflow-y: auto; }
.src-panel, .src-empty, .src-error { display: flex; flex-direction: column; gap: .6rem; }
.src-empty { border: 1px dashed var(--border-color-primary); border-radius: 10px; padding: 1rem;
  color: var(--body-text-color-subdued); }
.src-empty p { margin: .3rem 0 0; font-size: .9rem; }
.src-head { display: flex; justify-content: space-between; align-items: baseline; font-size: 1rem; }
.src-head span, .src-q { font-size: .8rem; color: var(--body-text-color-subdued); }
.src-q { margin-top: -.45rem; }
.src-pinned { display: flex; justify-content: space-between; align-items: center; gap: .5rem; font-size: .82rem;
  padding: .35rem .6rem; border-radius: 8px; background: var(--pr-note-bg); color: var(--pr-note-text); }
.src-back { font: inherit; font-weight: 600; color: inherit; background: none; border: 1px solid currentColor;
  border-radius: 6px; padding: .1rem .5rem; cursor: pointer; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .7rem .85rem;
  background: var(--background-fill-primary); transition: box-shadow .2s, border-color .2s; }
.src-card.src-focus { border-color: var(--pr-focus); box-shadow: 0 0 0 2px var(--pr-focus); }
.src-title { font-weight: 600; line-height: 1.35; font-size: .95rem; overflow-wrap: anywhere; }
.src-title a { color: inherit; text-decoration: underline dotted; text-underline-offset: 3px; }
.src-n { display: inline-block; min-width: 1.5rem; margin-right: .45rem; padding: 0 .35rem; border-radius: 6px;
  background: var(--pr-n-bg); color: var(--pr-n-text); font-size: .78rem; text-align: center; line-height: 1.35rem; }
.src-quote { margin: .45rem 0 .3rem; padding-left: .7rem; border-left: 3px solid var(--pr-quote-border);
  font-size: .86rem; line-height: 1.5; color: var(--body-text-color); }
.src-card mark { background: var(--pr-mark-bg); color: var(--pr-mark-text); padding: 0 .1rem; border-radius: 3px; }
.src-card .gap { color: var(--body-text-color-subdued); }
.src-abs { font-size: .82rem; margin-bottom: .3rem; }
.src-abs summary { cursor: pointer; color: var(--body-text-color-subdued); }
.src-abs p { margin: .3rem 0 0; line-height: 1.5; }
.src-meta { font-size: .78rem; color: var(--body-text-color-subdued); display: flex; flex-wrap: wrap;
  gap: .1rem .35rem; align-items: baseline; }
.src-meta a { color: var(--pr-cite); }
.src-tag { padding: 0 .4rem; border-radius: 4px; background: var(--pr-tag-bg); color: var(--pr-tag-text);
  cursor: help; }
.src-closest { border-style: dashed; }
.src-abstain { border-left: 4px solid var(--pr-warn-border); background: var(--pr-warn-bg); color: var(--pr-warn-text);
  padding: .6rem .8rem; border-radius: 6px; font-size: .9rem; }
.src-error { border-left: 4px solid var(--pr-err-border); background: var(--pr-err-bg); color: var(--pr-err-text);
  padding: .6rem .8rem; border-radius: 6px; font-size: .9rem; }
.src-more summary { cursor: pointer; font-size: .85rem; color: var(--body-text-color-subdued); }
.src-more ul { margin: .3rem 0 0 1rem; padding: 0; font-size: .85rem; }
.src-more a { color: inherit; }
.coll-bar { align-items: flex-end; flex-wrap: wrap !important; gap: .5rem !important; }
.coll-bar > * { min-width: min(200px, 100%) !important; }
.coll-count { font-size: .9rem; color: var(--body-text-color-subdued); margin: .2rem 0 .5rem; }
.coll-list { display: flex; flex-direction: column; gap: .35rem; }
.coll-item { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .45rem .7rem;
  background: var(--background-fill-primary); }
.coll-item summary { cursor: pointer; list-style-position: inside; }
.coll-title { font-weight: 600; overflow-wrap: anywhere; }
.coll-meta { display: block; font-size: .78rem; color: var(--body-text-color-subdued); }
.coll-item p { font-size: .86rem; line-height: 1.5; margin: .4rem 0; }
.coll-item mark { background: var(--pr-mark-bg); color: var(--pr-mark-text); border-radius: 3px; }
.coll-item .src-meta a { color: var(--pr-cite); }
"""
