// Policy rules with the agent's protocol: table mode's `iif <tap> lookup <table>` per tenant
// interface, the jumps and link-scope rules (kernel-objects tableModeNodeRules), and the local
// rule moved behind the tenant rules (ADR 0010, 0011), whose `0: lookup local` the agent deletes
// and puts back.
import type { Rtnetlink } from '../../netlink/rtnetlink';
import { Rule, ruleAddRequest, ruleDeleteRequest } from '../../netlink/rule';
import type { NamedRule } from '../kernel-objects';
import { diffByKey, KindDescriptor } from './kind';

export type RuleOp = { kind: 'rule'; action: 'create' | 'delete'; rule: Rule };

/** What plans need of the rule list: the agent's rules by ruleKey, and the families whose local rule is at 0. */
export interface RuleList {
  ours: Map<string, Rule>;
  localRuleAtZero: Set<number>;
}

/** Identity of a rule: its selectors and action (a dump names the action and table 0 of a goto). */
export function ruleKey(r: Rule): string {
  const action = r.action ?? 'lookup';
  return `${r.family}|${r.priority ?? 0}|${r.iif ?? ''}|${r.dst ?? ''}|${action} ${action === 'goto' ? r.goto : r.table}`;
}

/** Families whose rule list has the kernel's `0: lookup local`. */
function localRuleAtZero(rules: Rule[]): Set<number> {
  return new Set(rules.filter((r) => (r.priority ?? 0) === 0 && r.table === 255).map((r) => r.family));
}

/** The rule list as plans use it (kept between tenant plans: KeptReads.rules). */
export async function readRuleList(nl: Rtnetlink, protocol: number): Promise<RuleList> {
  const rules = await nl.rules();
  return { ours: new Map(rules.filter((r) => r.protocol === protocol).map((r) => [ruleKey(r), r])), localRuleAtZero: localRuleAtZero(rules) };
}

/** The key (selectors and action) is all there is to compare. */
const same = () => true;

export const rule: KindDescriptor<RuleOp, NamedRule, Rule> = {
  kind: 'rule',
  objects: 'rules',
  key: ruleKey,
  same,
  plan(desired, observed) {
    const ops = diffByKey(desired.rules, observed.rules, same, {
      create: (r): RuleOp => ({ kind: 'rule', action: 'create', rule: r }),
      delete: (r): RuleOp => ({ kind: 'rule', action: 'delete', rule: r }),
    });
    // The local rule (kernel-objects localRules): deleted at 0 once the moved one is planned, put
    // back at 0 (before the moved one goes: creates run first) only where the agent moved it.
    const atZero = observed.localRuleAtZero;
    if (atZero)
      for (const family of [4, 6] as const) {
        const zero: Rule = { family, priority: 0, table: 255 };
        // (table mode's link-scope rules also look up local, but name a destination)
        const movedByUs = [...observed.rules.values()].some((r) => r.family === family && r.table === 255 && r.dst === undefined && r.iif === undefined);
        if (desired.moveLocalRule && atZero.has(family)) ops.push({ kind: 'rule', action: 'delete', rule: zero });
        else if (!desired.moveLocalRule && !atZero.has(family) && movedByUs) ops.push({ kind: 'rule', action: 'create', rule: { ...zero, protocol: 2 } });
      }
    return ops;
  },
  execute: { via: 'netlink', request: (op) => (op.action === 'create' ? ruleAddRequest(op.rule) : ruleDeleteRequest(op.rule)), refreshLinks: false },
  describe: (op) => `rule iif ${op.rule.iif} table ${op.rule.table}`,
  invalidates: () => ['rules'],
  observe: {
    via: 'kernel',
    async all({ nl, protocol }) {
      const { ours, localRuleAtZero } = await readRuleList(nl, protocol);
      return { rules: ours, localRuleAtZero };
    },
    // The tenant's rules and the node-wide ones it decides (the local rule), looked up in the rule list.
    async tenant({ desired, before, kept }) {
      const list = await kept.rules();
      const rules = new Map<string, Rule>();
      for (const k of [...desired.rules.keys(), ...before.rules.keys()]) {
        const r = list.ours.get(k);
        if (r) rules.set(k, r);
      }
      return { rules, localRuleAtZero: list.localRuleAtZero };
    },
  },
  // An `iif <tap>` rule needs no device: kept, it holds the tap's isolation in place for when it comes back.
  needs: () => undefined,
};
