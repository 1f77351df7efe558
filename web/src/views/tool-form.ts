import { MB, MEDIA_TYPES, type MediaKind, TOOLS, type ToolId } from '../../../lambdas/domain/catalog';
import { appForm, h, rebuild, uid } from '../dom';
import { formatBytes, t } from '../i18n';
import { icon } from '../icons';
import { type AppState, type AppStore, blockReason, currentCost, TOOL_ORDER } from '../state';
import { watch } from '../store';
import { TYPE_NAMES } from '../words';

export interface ToolFormActions {
  chooseTool(tool: ToolId): void;
  setParam(name: string, value: string | number): void;
  chooseFile(slot: string, file: File | undefined): void;
  submit(): void;
  /** Local stack only: the test "+20 credits" button. */
  addCredits: (() => void) | null;
}

const fileKey = (file: File | undefined) => (file ? `${file.name}:${file.size}:${file.lastModified}` : '-');

/** The tool picker and the form of the chosen tool: files, options, price, and why it cannot be sent now. */
export function mountToolForm(region: HTMLElement, store: AppStore, limits: Record<MediaKind, number>, actions: ToolFormActions) {
  watch(
    store,
    (s) =>
      [
        s.lang,
        s.tool,
        JSON.stringify(s.params),
        Object.entries(s.files[s.tool]).map(([slot, f]) => `${slot}=${fileKey(f)}`),
        s.submitting,
        s.formError,
        s.balance,
        blockReason(s)?.message,
      ].join('|'),
    (s) => render(region, s, limits, actions),
  );
}

const previews = new WeakMap<File, string>();

function render(region: HTMLElement, s: AppState, limits: Record<MediaKind, number>, actions: ToolFormActions) {
  const text = t();
  const spec = TOOLS[s.tool];
  const blocked = blockReason(s);
  const cost = currentCost(s);
  const reasonId = uid('reason');
  const toolButtons = TOOL_ORDER.map((id) =>
    h(
      'button',
      {
        type: 'button',
        class: 'tool-button',
        'aria-pressed': String(id === s.tool),
        'data-focus': `tool-${id}`,
        'data-tool': id,
        onClick: () => actions.chooseTool(id),
      },
      icon(id, 28),
      h('span', { class: 'tool-name' }, text.toolName[id]),
      h('span', { class: 'tool-price' }, text.credits(TOOLS[id].price(s.params[id]))),
    ),
  );
  const params = Object.entries(spec.params).map(([name, param]) => {
    const legendId = uid('legend');
    return h(
      'fieldset',
      { class: 'param', 'aria-labelledby': legendId },
      h('legend', { id: legendId, class: 'field-label' }, text.paramName[name] ?? name),
      h(
        'div',
        { class: 'segmented' },
        param.values.map((value) => {
          const id = uid('param');
          return h(
            'span',
            { class: 'segment' },
            h('input', {
              type: 'radio',
              id,
              name: `${s.tool}-${name}`,
              value: String(value),
              checked: s.params[s.tool][name] === value,
              'data-focus': `param-${name}-${value}`,
              onChange: () => actions.setParam(name, value),
            }),
            h('label', { for: id }, text.paramValue[String(value)] ?? String(value)),
          );
        }),
      ),
    );
  });
  const busy = blocked?.kind === 'busy';
  rebuild(
    region,
    h('h2', { id: 'tools-heading', tabindex: '-1' }, text.toolsHeading),
    h('div', { class: 'tool-grid', role: 'group', 'aria-labelledby': 'tools-heading' }, toolButtons),
    appForm(
      { class: 'tool-form stack', 'aria-label': text.toolName[s.tool] },
      actions.submit,
      h('p', { class: 'muted tool-description' }, text.toolDescription[s.tool]),
      // While a job is active nothing here can be used: the whole group is disabled, and says why.
      h(
        'fieldset',
        { class: 'form-fields stack', disabled: busy, 'aria-describedby': busy ? reasonId : null },
        h('legend', { class: 'visually-hidden' }, text.toolName[s.tool]),
        Object.entries(spec.slots).map(([slot, kind]) => slotPicker(s, slot, kind, limits[kind], actions)),
        params,
      ),
      h(
        'p',
        { class: 'price', 'data-testid': 'price', 'data-short': s.balance !== null && s.balance < cost ? 'true' : null },
        text.priceLine(cost, s.balance),
      ),
      blocked
        ? h('p', { id: reasonId, class: 'block-reason', 'data-kind': blocked.kind, 'data-testid': 'block-reason' }, blocked.message)
        : null,
      h(
        'button',
        {
          type: 'submit',
          class: 'button primary submit',
          'data-focus': 'submit',
          disabled: s.submitting || blocked !== null,
          'aria-describedby': blocked ? reasonId : null,
        },
        text.submit(cost),
      ),
      h('p', { class: 'form-error', role: 'alert', 'data-testid': 'form-error' }, s.formError ?? ''),
      actions.addCredits
        ? h(
            'p',
            { class: 'dev-row' },
            h(
              'button',
              { type: 'button', class: 'ghost-button small', 'data-focus': 'add-credits', onClick: actions.addCredits },
              text.addCredits,
            ),
          )
        : null,
    ),
  );
}

function slotPicker(s: AppState, slot: string, kind: MediaKind, limit: number, actions: ToolFormActions) {
  const text = t();
  const inputId = `file-${s.tool}-${slot}`;
  const hintId = `${inputId}-hint`;
  const chosen = s.files[s.tool][slot];
  const preview = h('span', { class: 'file-preview', 'aria-hidden': 'true' });
  if (chosen && MEDIA_TYPES.image.includes(chosen.type)) {
    let url = previews.get(chosen);
    if (!url) {
      url = URL.createObjectURL(chosen);
      previews.set(chosen, url);
    }
    const img = h('img', { src: url, alt: '' });
    // A file that only claims to be an image: the generic icon rather than a broken picture.
    img.addEventListener('error', () => img.replaceWith(icon('upscale-image', 28)));
    preview.append(img);
  } else preview.append(icon(kind === 'video' ? 'upscale-video' : 'upscale-image', 28));
  const input = h('input', {
    type: 'file',
    id: inputId,
    name: slot,
    class: 'visually-hidden file-input',
    accept: MEDIA_TYPES[kind].join(','),
    'aria-describedby': hintId,
    'data-focus': inputId,
    'data-slot': slot,
    onChange: () => actions.chooseFile(slot, input.files?.[0]),
  });
  const slotName = text.slotName[slot] ?? slot;
  return h(
    'div',
    { class: 'slot' },
    h('span', { class: 'field-label', id: `${inputId}-label` }, slotName),
    input,
    h(
      'label',
      { for: inputId, class: 'file-drop' },
      preview,
      h(
        'span',
        { class: 'file-text' },
        h('span', { class: 'visually-hidden' }, `${slotName}: `),
        h('span', { class: 'file-name' }, chosen ? `${chosen.name} · ${formatBytes(chosen.size)}` : text.noFile),
        h('span', { class: 'file-action' }, chosen ? text.changeFile : text.chooseFile),
      ),
    ),
    h(
      'p',
      { id: hintId, class: 'hint' },
      text.accepts(MEDIA_TYPES[kind].map((type) => TYPE_NAMES[type] ?? type).join(', '), Math.round(limit / MB)),
    ),
  );
}
