import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * axe-core on what the page shows now (open dialogs included): no serious or critical violation of
 * WCAG 2.x A/AA. Each failure names the screen, the rule and the elements.
 */
export async function expectAccessible(page: Page, screen: string) {
  const { violations, passes } = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
    .analyze();
  expect(passes.length, `${screen}: axe ran its rules`).toBeGreaterThan(10);
  const serious = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${screen}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(serious).toEqual([]);
}

/** A touch target a thumb can hit: at least 44 × 44 CSS px. */
export async function expectTouchTarget(name: string, locator: ReturnType<Page['locator']>) {
  // Waits for it first: a region re-rendered by a live update can be between two renders at the instant we look.
  await locator.waitFor({ state: 'visible', timeout: 10_000 }).catch(() => undefined);
  const box = await locator.boundingBox();
  expect(box, `${name} is visible`).not.toBeNull();
  expect([name, (box?.width ?? 0) >= 43.99, (box?.height ?? 0) >= 43.99]).toEqual([name, true, true]);
}
