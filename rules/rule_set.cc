#include "rules/rule_set.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rules/parser.h"

namespace precall::rules {
namespace {

devices::WindowFunc ToWindowFunc(Func f) {
  switch (f) {
    case Func::kAvg: return devices::WindowFunc::kAvg;
    case Func::kMin: return devices::WindowFunc::kMin;
    case Func::kMax: return devices::WindowFunc::kMax;
    case Func::kSum: return devices::WindowFunc::kSum;
    case Func::kCount: return devices::WindowFunc::kCount;
    case Func::kStddev: return devices::WindowFunc::kStddev;
    case Func::kDelta: return devices::WindowFunc::kDelta;
    case Func::kRate: return devices::WindowFunc::kRate;
    default: return devices::WindowFunc::kAvg;
  }
}

OpCode ToOpCode(Op op) {
  switch (op) {
    case Op::kNeg: return OpCode::kNeg;
    case Op::kNot: return OpCode::kNot;
    case Op::kOr: return OpCode::kOr;
    case Op::kAnd: return OpCode::kAnd;
    case Op::kLt: return OpCode::kLt;
    case Op::kLe: return OpCode::kLe;
    case Op::kGt: return OpCode::kGt;
    case Op::kGe: return OpCode::kGe;
    case Op::kEq: return OpCode::kEq;
    case Op::kNe: return OpCode::kNe;
    case Op::kAdd: return OpCode::kAdd;
    case Op::kSub: return OpCode::kSub;
    case Op::kMul: return OpCode::kMul;
    case Op::kDiv: return OpCode::kDiv;
  }
  return OpCode::kAdd;
}

static_assert(kMaxStackDepth >= kMaxPendingValues + 1,
              "every tree the parser accepts must fit on Evaluate's stack");

// Emits postfix code for one expression tree and records what the rule uses.
class Compiler {
 public:
  Compiler(devices::MetricPlan& plan, CompiledRule& rule) : plan_(plan), rule_(rule) {}

  Program Compile(const Expr& expr) {
    program_ = Program{};
    depth_ = 0;
    Emit(expr);
    return std::move(program_);
  }

 private:
  void Push(Instr in) {
    program_.code.push_back(in);
    ++depth_;
    program_.max_depth = std::max(program_.max_depth, depth_);
  }
  void NoteSlot(uint32_t slot) {
    if (std::find(rule_.slots.begin(), rule_.slots.end(), slot) == rule_.slots.end()) {
      rule_.slots.push_back(slot);
    }
  }

  void Emit(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kNumber:
        Push(Instr{.op = OpCode::kConst, .number = e.number});
        return;
      case Expr::Kind::kBool:
        Push(Instr{.op = OpCode::kConst, .number = e.boolean ? 1.0 : 0.0});
        return;
      case Expr::Kind::kMetric: {
        uint32_t slot = plan_.AddMetric(e.metric);
        NoteSlot(slot);
        Push(Instr{.op = OpCode::kLatest, .slot = slot});
        return;
      }
      case Expr::Kind::kCall:
        EmitCall(e);
        return;
      case Expr::Kind::kUnary:
        Emit(*e.rhs);
        program_.code.push_back(Instr{.op = ToOpCode(e.op)});
        return;
      case Expr::Kind::kBinary:
        Emit(*e.lhs);
        Emit(*e.rhs);
        program_.code.push_back(Instr{.op = ToOpCode(e.op)});
        --depth_;
        return;
    }
  }

  void EmitCall(const Expr& e) {
    switch (e.func) {
      case Func::kDtc: {
        rule_.uses_dtc = true;
        program_.strings.push_back(e.code);
        Push(Instr{.op = e.code_prefix ? OpCode::kDtcPrefix : OpCode::kDtc,
                   .slot = static_cast<uint32_t>(program_.strings.size() - 1)});
        return;
      }
      case Func::kSilent:
        if (std::find(rule_.silent_ms.begin(), rule_.silent_ms.end(), e.duration_ms) ==
            rule_.silent_ms.end()) {
          rule_.silent_ms.push_back(e.duration_ms);
        }
        Push(Instr{.op = OpCode::kSilent, .ms = e.duration_ms});
        return;
      default: {
        devices::WindowFunc func = ToWindowFunc(e.func);
        uint32_t slot = plan_.AddMetric(e.metric);
        int window = plan_.AddWindow(slot, e.duration_ms, func);
        NoteSlot(slot);
        auto used = std::make_pair(slot, window);
        if (std::find(rule_.windows.begin(), rule_.windows.end(), used) == rule_.windows.end()) {
          rule_.windows.push_back(used);
        }
        Push(Instr{.op = OpCode::kWindow, .func = func, .window = static_cast<int16_t>(window),
                   .slot = slot});
        return;
      }
    }
  }

  devices::MetricPlan& plan_;
  CompiledRule& rule_;
  Program program_;
  int depth_ = 0;
};

std::string Fingerprint(const RuleSpec& spec) {
  std::string select;
  for (const auto& [k, v] : spec.select) absl::StrAppend(&select, k, "=", v, ";");
  return absl::StrCat(spec.when_text, "\x1f", spec.clear_text, "\x1f", spec.for_ms, "\x1f",
                      spec.clear_for_ms, "\x1f", select);
}

}  // namespace

bool CompiledRule::Selects(const devices::DeviceState& device) const {
  for (const Match& m : select) {
    if (m.is_model) {
      if (!device.has_model() || device.model() != m.value) return false;
    } else {
      const std::string* label = device.Label(m.key);
      if (label == nullptr || *label != m.value) return false;
    }
  }
  return true;
}

RuleSet::Built RuleSet::Build(std::vector<RuleSpec> specs) {
  Built built;
  auto set = std::make_shared<RuleSet>();
  absl::flat_hash_map<std::string, const RuleSpec*> by_name;
  for (const RuleSpec& spec : specs) {
    auto [it, inserted] = by_name.emplace(spec.name, &spec);
    if (!inserted) {
      built.errors.push_back(devices::Diagnostic{
          spec.file, spec.name_line, spec.name_column,
          absl::StrCat("duplicate rule name '", spec.name, "' (first defined at ", it->second->file,
                       ":", it->second->line, ")")});
    }
  }
  for (const RuleSpec& spec : specs) {
    CompiledRule rule;
    rule.name = spec.name;
    for (const auto& [key, value] : spec.select) {
      rule.select.push_back(CompiledRule::Match{key == "model", key, value});
    }
    Compiler compiler(set->plan_, rule);
    rule.when = compiler.Compile(*spec.when);
    if (spec.clear) rule.clear = compiler.Compile(*spec.clear);
    rule.for_ms = spec.for_ms;
    rule.clear_for_ms = spec.clear_for_ms;
    rule.case_template = CaseTemplate{spec.severity, spec.diagnosis, spec.skill, spec.parts,
                                      spec.reopen_within_ms};
    rule.fingerprint = Fingerprint(spec);
    set->rules_.push_back(std::move(rule));
  }
  if (!built.errors.empty()) return built;

  const std::size_t words = set->bitmap_words();
  set->slot_bits_.assign(set->plan_.size() * words, 0);
  set->dtc_bits_.assign(words, 0);
  for (uint32_t i = 0; i < set->rules_.size(); ++i) {
    const CompiledRule& rule = set->rules_[i];
    const uint64_t bit = uint64_t{1} << (i % 64);
    for (uint32_t slot : rule.slots) set->slot_bits_[slot * words + i / 64] |= bit;
    if (rule.uses_dtc) set->dtc_bits_[i / 64] |= bit;
    if (rule.uses_clock()) set->clock_rules_.push_back(i);
  }
  built.rules = std::move(set);
  return built;
}

}  // namespace precall::rules
