// Sorting, grouping and filtering of the contact sheet. The grid itself needs no
// script: this only reorders the tiles the page already holds, and never turns text
// into markup (group headings are set with textContent).
'use strict';
(() => {
  const grid = document.getElementById('grid');
  const controls = document.getElementById('controls');
  const sort = document.getElementById('sort');
  const group = document.getElementById('group');
  const filter = document.getElementById('filter');
  const shown = document.getElementById('shown');
  const tiles = Array.from(grid.querySelectorAll('.tile'));

  const text = (tile, key) => tile.dataset[key] || '';
  const number = (tile, key, missing) => {
    const v = parseFloat(tile.dataset[key]);
    return Number.isNaN(v) ? missing : v;
  };
  const ascending = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
  const byOrder = (a, b) => ascending(number(a, 'order', 0), number(b, 'order', 0));
  const compare = {
    order: byOrder,
    time: (a, b) => ascending(number(a, 'time', Infinity), number(b, 'time', Infinity)),
    // Highest first; unpriced tiles last.
    cost: (a, b) => ascending(number(b, 'cost', -Infinity), number(a, 'cost', -Infinity)),
    prompt: (a, b) => text(a, 'prompt').localeCompare(text(b, 'prompt')),
    model: (a, b) => text(a, 'model').localeCompare(text(b, 'model')),
  };
  const groups = ['prompt', 'model'];

  function render() {
    const query = filter.value.trim().toLowerCase();
    const by = group.value;
    const order = compare[sort.value] || byOrder;
    const list = tiles.filter((t) => !query || text(t, 'search').includes(query));
    list.sort((a, b) =>
      (by ? text(a, by).localeCompare(text(b, by)) : 0) || order(a, b) || byOrder(a, b));
    const fragment = document.createDocumentFragment();
    let current = null;
    for (const tile of list) {
      if (by && text(tile, by) !== current) {
        current = text(tile, by);
        const heading = document.createElement('h2');
        heading.className = 'group';
        heading.textContent = current || '(none)';
        fragment.append(heading);
      }
      fragment.append(tile);
    }
    grid.replaceChildren(fragment);
    let cost = 0;
    for (const tile of list) cost += number(tile, 'cost', 0);
    shown.textContent = list.length === tiles.length
      ? ''
      : `${list.length} of ${tiles.length} shown, $${cost.toFixed(4)}`;
    // The view is kept in the address (#sort=cost&group=model&q=fox): it survives the
    // reloads of a running batch's sheet and can be bookmarked.
    const params = new URLSearchParams();
    if (sort.value !== 'order') params.set('sort', sort.value);
    if (by) params.set('group', by);
    if (query) params.set('q', filter.value.trim());
    const hash = params.toString();
    if (hash !== location.hash.slice(1)) {
      try {
        location.replace(`#${hash}`);
      } catch (_) {
        // Some viewers refuse to change the address of a local file: the view still works.
      }
    }
  }

  const initial = new URLSearchParams(location.hash.slice(1));
  if (compare[initial.get('sort')]) sort.value = initial.get('sort');
  if (groups.includes(initial.get('group'))) group.value = initial.get('group');
  if (initial.has('q')) filter.value = initial.get('q');
  sort.addEventListener('change', render);
  group.addEventListener('change', render);
  filter.addEventListener('input', render);
  controls.addEventListener('submit', (event) => event.preventDefault());
  controls.hidden = false;
  if (Array.from(initial.keys()).length) render();
})();
