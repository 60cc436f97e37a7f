"""The page's own CSS and JavaScript (the sources panel beside or below the chat, marker
links, the copy button)."""

CSS = """
.gradio-container {max-width: 1880px !important}
/* Wide screens: the sources sit beside the chat and scroll on their own, inside the
   viewport, so a highlighted quote is never pushed below the fold or under other parts
   of the page. Narrow screens (phones): stacked under the chat, the page scrolls. */
@media (min-width: 900px) {
  #sources-col {position: sticky; top: .5rem; align-self: flex-start; max-height: calc(100vh - 1rem);
                overflow-y: auto; overscroll-behavior: contain}
  .hint-narrow {display: none}
}
@media (max-width: 899px) {
  #main-row {flex-direction: column}
  .hint-wide {display: none}
}
#chat {height: min(68vh, 760px) !important}
.src-group .src-question {font-weight: 600; margin-bottom: .5em; color: #444}
.src-item {border: 1px solid #ddd; border-radius: 8px; padding: .6em .8em; margin-bottom: .7em; background: #fff}
.src-item.selected {border-color: #d97706; box-shadow: 0 0 0 2px #fcd34d}
.src-head {font-weight: 600}
.src-marker {color: #b45309}
.src-meta, .src-ids, .src-section {font-size: .85em; color: #666}
.src-flag {font-size: .8em; color: #92400e; background: #fef3c7; display: inline-block; padding: 0 .4em; border-radius: 4px}
.src-passage {margin: .4em 0; line-height: 1.7}
.src-passage mark, .ctx mark {background: #fde68a; padding: 0 .1em}
mark strong.short-span {background: #fbbf24}
strong.short-answer {font-size: 1.05em}
.ctx {font-size: .92em; line-height: 1.7; color: #333; white-space: pre-wrap}
.ctx-passage {background: #f3f4f6}
a.cite-marker {color: #b45309; font-weight: 600; text-decoration: none; cursor: pointer; margin: 0 .1em}
small.searched {color: #777}
a.edit-searched {color: #1d4ed8; text-decoration: underline dotted; cursor: pointer}
small.converted {color: #92400e; font-size: .75em; margin-left: .15em; cursor: help}
a.copy-answer {font-size: .85em; color: #555}
.related-head {font-weight: 600; color: #555}
.rel-quote {color: #555; font-size: .9em}
.sources-empty {color: #777}
.claim {border: 1px solid #ddd; border-radius: 8px; padding: .6em .8em; margin-bottom: .8em}
.claim-text {font-weight: 600; margin-bottom: .3em}
.verdict {display: inline-block; padding: .1em .5em; border-radius: 4px; font-weight: 600; margin-bottom: .4em}
.verdict-supported {background: #dcfce7; color: #166534}
.verdict-contradicted {background: #fee2e2; color: #991b1b}
.verdict-partly_supported {background: #fef3c7; color: #92400e}
.verdict-not_found {background: #f3f4f6; color: #374151}
.claim-diff {margin: .3em 0 .5em}
.claim-contradicted mark {background: #fecaca}
"""

JS = """
() => {
  document.addEventListener('click', (e) => {
    const c = e.target.closest('a.copy-answer');
    if (c) {
      // Plain text: the answer as read (markers kept, links and hints left out), then its
      // numbered sources as the panel lists them (title, date and outlet, chunk id, offsets).
      e.preventDefault(); e.stopPropagation();
      const turn = (c.getAttribute('href') || '').replace('#copy-', '');
      const msg = c.closest('.message') || c.parentElement;
      const clone = msg.cloneNode(true);
      clone.querySelectorAll('a.copy-answer, small.searched, small.converted, small.related-hint').forEach((x) => x.remove());
      const lines = [clone.innerText.trim(), '', (c.dataset && c.dataset.head) || c.getAttribute('title') || ''];
      document.querySelectorAll('#src-group-' + turn + ' .src-item').forEach((it) => {
        const part = (sel) => { const el = it.querySelector(sel); return el ? el.innerText.replace(/\\s+/g, ' ').trim() : ''; };
        lines.push([part('.src-head'), part('.src-meta'), part('.src-ids')].filter(Boolean).join(' · '));
      });
      const text = lines.join('\\n');
      const label = c.textContent;
      const done = () => { c.textContent = '✓ ' + label; setTimeout(() => { c.textContent = label; }, 1500); };
      const fallback = () => {  // no Clipboard API on plain http: copy through a hidden text area
        const t = document.createElement('textarea'); t.value = text; t.style.position = 'fixed'; t.style.opacity = '0';
        document.body.appendChild(t); t.select(); try { document.execCommand('copy'); done(); } finally { t.remove(); }
      };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
      else fallback();
      return;
    }
    const q = e.target.closest('a.edit-searched');
    if (q) {  // put the rewritten follow-up in the question box, ready to edit
      e.preventDefault(); e.stopPropagation();
      const box = document.querySelector('#question textarea');
      if (box) { box.value = q.textContent.trim(); box.dispatchEvent(new Event('input', {bubbles: true})); box.focus(); }
      return;
    }
    const a = e.target.closest('a.cite-marker, a[href^="#src-"]');
    if (!a) {
      // A click anywhere on an answer shows that answer's sources (the server agrees a
      // moment later; this keeps the panel right even if its HTML did not change).
      const row = e.target.closest('.bot-row, .message');
      const tag = row && row.querySelector('.turn-tag');
      const m2 = tag && tag.className.match(/turn-(\\d+)/);
      if (m2) showTurn(m2[1]);
      return;
    }
    e.preventDefault(); e.stopPropagation();
    const m = (a.getAttribute('href') || '').match(/#src-(\\d+)-(\\d+)/);
    if (!m) return;
    showTurn(m[1]);
    document.querySelectorAll('.src-item.selected').forEach((x) => x.classList.remove('selected'));
    const el = document.getElementById('src-' + m[1] + '-' + m[2]);
    if (el) {
      el.classList.add('selected');
      const mark = el.querySelector('mark') || el;
      mark.scrollIntoView({block: 'center'});  // the quote itself, not just the card's top
    }
  }, true);
  function showTurn(turn) {
    document.querySelectorAll('.src-group').forEach((g) => { g.style.display = g.dataset.turn === String(turn) ? '' : 'none'; });
  }
}
"""
