#include "jepsen/checker/set_bank.h"

#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace raftkv::jepsen {

SetReport CheckSet(const std::vector<Op>& history) {
  SetReport r;
  std::unordered_map<int64_t, OpType> adds;
  const Op* final_read = nullptr;
  for (const Op& op : history) {
    if (op.f == "add" && op.has_value && !op.is_list) {
      ++r.attempted;
      adds[op.scalar()] = op.type;
      if (op.type == OpType::kOk) ++r.acknowledged;
      if (op.type == OpType::kInfo) ++r.indeterminate;
    } else if (op.f == "read" && op.type == OpType::kOk && op.is_list) {
      if (final_read == nullptr || op.end >= final_read->end) final_read = &op;
    }
  }
  if (final_read == nullptr) {
    r.verdict = Verdict::kUnknown;
    return r;
  }
  std::unordered_set<int64_t> seen(final_read->value.begin(),
                                   final_read->value.end());
  r.final_size = static_cast<int64_t>(seen.size());
  for (int64_t v : seen) {
    auto it = adds.find(v);
    if (it == adds.end() || it->second == OpType::kFail) {
      if (r.unexpected.size() < 20) r.unexpected.push_back(v);
      ++r.unexpected_count;
    } else if (it->second == OpType::kInfo) {
      ++r.recovered;
    }
  }
  for (const auto& [v, type] : adds) {
    if (type == OpType::kOk && !seen.contains(v)) {
      if (r.lost.size() < 20) r.lost.push_back(v);
      ++r.lost_count;
    }
  }
  if (r.lost_count > 0 || r.unexpected_count > 0) r.verdict = Verdict::kInvalid;
  return r;
}

std::string SetReport::Describe() const {
  return absl::StrCat(
      "set: ", VerdictName(verdict), " (attempted ", attempted,
      ", acknowledged ", acknowledged, ", indeterminate ", indeterminate,
      ", final read ", final_size, ", recovered ", recovered, ", lost ",
      lost_count,
      lost.empty() ? "" : absl::StrCat(" [", absl::StrJoin(lost, ","), "]"),
      ", unexpected ", unexpected_count,
      unexpected.empty()
          ? ""
          : absl::StrCat(" [", absl::StrJoin(unexpected, ","), "]"),
      verdict == Verdict::kUnknown ? ", no successful final read" : "", ")\n");
}

BankReport CheckBank(const std::vector<Op>& history, int accounts,
                     int64_t total) {
  BankReport r;
  for (const Op& op : history) {
    if (op.type != OpType::kOk) continue;
    if (op.f == "transfer") ++r.transfers_ok;
    if (op.f != "read") continue;
    ++r.reads;
    bool bad =
        !op.is_list || static_cast<int>(op.value.size()) != accounts ||
        std::accumulate(op.value.begin(), op.value.end(), int64_t{0}) != total;
    for (int64_t b : op.value) bad = bad || b < 0;
    if (!bad) continue;
    ++r.bad_reads;
    if (r.examples.size() < 10) r.examples.push_back(op);
  }
  if (r.bad_reads > 0) r.verdict = Verdict::kInvalid;
  if (r.reads == 0) r.verdict = Verdict::kUnknown;
  return r;
}

std::string BankReport::Describe() const {
  std::string out =
      absl::StrCat("bank: ", VerdictName(verdict), " (", reads, " reads, ",
                   bad_reads, " bad, ", transfers_ok, " transfers ok)\n");
  for (const Op& op : examples) absl::StrAppend(&out, "  ", FormatOp(op), "\n");
  return out;
}

}  // namespace raftkv::jepsen
