// Copying a whole store into an empty database, page by page, and proving the copy.
#include "mayfly/store_copy.h"

#include <algorithm>
#include <functional>
#include <string>

#include "mayfly/audit_chain.h"
#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

// Walks a table in pages: `read(after, limit)` gives the page after a key,
// `key(row)` a row's key, `visit(page)` takes each non-empty page.
template <typename Row, typename Key>
Result<void> ForEachPage(int page_size, Key after,
                         const std::function<Result<std::vector<Row>>(const Key&, int)>& read,
                         const std::function<Key(const Row&)>& key,
                         const std::function<Result<void>(std::vector<Row>&)>& visit) {
  while (true) {
    auto page = read(after, page_size);
    if (!page) return std::unexpected(page.error());
    if (page->empty()) return Ok();
    after = key(page->back());
    if (auto r = visit(*page); !r) return r;
  }
}

// The "sha256:<hex>" of the active root among `records` ("" when none).
Result<std::string> ActiveRootFingerprint(const std::vector<CaCertRecord>& records) {
  for (const CaCertRecord& r : records) {
    if (r.role != CaRole::kRoot || r.state != CaState::kActive) continue;
    auto cert = CertFromDer(r.der);
    if (!cert) return WithContext(cert.error(), "CA certificate " + r.serial);
    return CertFingerprint(cert->get());
  }
  return std::string();
}

std::unexpected<Error> Differs(const std::string& what) {
  return MakeError(ErrorCode::kConflict, "the copy differs from the source: " + what);
}

// Reads both sides in pages and compares them row by row.
template <typename Row, typename Key>
Result<void> ComparePages(int page_size, const std::string& table,
                          const std::function<Result<std::vector<Row>>(StoreExport&, const Key&, int)>& read,
                          const std::function<Key(const Row&)>& key, const std::function<std::string(const Row&)>& name,
                          const std::function<bool(const Row&, const Row&)>& same, StoreExport& from,
                          StoreExport& copy) {
  Key after{};
  while (true) {
    auto a = read(from, after, page_size);
    if (!a) return std::unexpected(a.error());
    auto b = read(copy, after, page_size);
    if (!b) return std::unexpected(b.error());
    for (size_t i = 0; i < a->size() && i < b->size(); ++i) {
      if (!same((*a)[i], (*b)[i])) return Differs(table + " row " + name((*a)[i]));
    }
    if (a->size() != b->size()) return Differs(table + " has a different number of rows");
    if (a->empty()) return Ok();
    after = key(a->back());
  }
}

bool SameEvent(const AuditEvent& a, const AuditEvent& b) {
  return a.id == b.id && a.time == b.time && a.type == b.type && a.actor == b.actor && a.subject == b.subject &&
         a.result == b.result && a.detail == b.detail && a.prev_hash == b.prev_hash && a.hash == b.hash;
}
bool SameNode(const NodeRecord& a, const NodeRecord& b) {
  return a.name == b.name && a.enrolled_at == b.enrolled_at && a.banned == b.banned && a.banned_at == b.banned_at;
}
bool SameAdmin(const AdminRecord& a, const AdminRecord& b) {
  return a.name == b.name && a.role == b.role && a.created_at == b.created_at && a.revoked_at == b.revoked_at;
}
bool SameEntry(const EntryRecord& a, const EntryRecord& b) {
  return a.id == b.id && a.spiffe_id == b.spiffe_id && a.node == b.node && a.dns == b.dns && a.ips == b.ips &&
         a.max_ttl == b.max_ttl && a.source == b.source && a.selectors == b.selectors;
}

}  // namespace

Result<std::vector<CaCertRecord>> CaCertsWithKeys(StoreExport& from, const std::string& state_dir) {
  auto records = from.CaCerts();
  if (!records) return std::unexpected(records.error());
  for (CaCertRecord& r : *records) {
    if (r.key_file.empty()) continue;  // a cross certificate: its key is its root's
    const std::string path = state_dir + "/" + r.key_file;
    auto pem = ReadFile(path);
    if (!pem) return WithContext(pem.error(), "reading the key of CA certificate " + r.serial + " (" + path + ")");
    if (!r.key_pem.empty() && r.key_pem != *pem) {
      return MakeError(ErrorCode::kConflict, "CA certificate " + r.serial + " holds a key in the database that is not " +
                                                 path + "; which one is current cannot be decided here");
    }
    r.key_pem = std::move(*pem);
  }
  return records;
}

Result<StoreCopyReport> CopyStore(StoreExport& from, const std::string& state_dir, StoreImport& to, int page_size) {
  StoreCopyReport report;
  auto counts = from.Counts();
  if (!counts) return std::unexpected(counts.error());
  report.counts = *counts;
  auto counters = from.Counters();
  if (!counters) return std::unexpected(counters.error());
  report.counters = *counters;

  auto cas = CaCertsWithKeys(from, state_dir);
  if (!cas) return std::unexpected(cas.error());
  // The daemon records the CA certificates (from state_dir's files) at its
  // first start; without them the copy would carry no keys for other hosts.
  if (cas->empty()) {
    return MakeError(ErrorCode::kConflict,
                     "the source holds no CA certificate records: `mayfly-ca serve` records them at its first "
                     "start; start it once on this store, stop it, and run this again");
  }
  auto fingerprint = ActiveRootFingerprint(*cas);
  if (!fingerprint) return std::unexpected(fingerprint.error());
  report.root_fingerprint = std::move(*fingerprint);
  if (auto r = to.AddCaCerts(*cas); !r) return std::unexpected(r.error());

  auto certs = ForEachPage<ExportedCert, int64_t>(
      page_size, 0, [&](const int64_t& after, int limit) { return from.Certificates(after, limit); },
      [](const ExportedCert& c) { return c.id; },
      [&](std::vector<ExportedCert>& page) { return to.AddCertificates(page); });
  if (!certs) return std::unexpected(certs.error());

  AuditChainVerifier chain;
  auto audit = ForEachPage<AuditEvent, int64_t>(
      page_size, 0, [&](const int64_t& after, int limit) { return from.AuditEvents(after, limit); },
      [](const AuditEvent& e) { return e.id; },
      [&](std::vector<AuditEvent>& page) -> Result<void> {
        for (const AuditEvent& event : page) {
          if (auto ok = chain.Add(event); !ok) return std::unexpected(ok.error());
        }
        return to.AddAuditEvents(page);
      });
  if (!audit) return std::unexpected(audit.error());
  if (AuditChainCheck check = chain.Finish(report.counters.last_audit_id); check.first_bad_id) {
    return MakeError(ErrorCode::kConflict,
                     "the source's audit chain does not verify (first bad event: " +
                         std::to_string(*check.first_bad_id) +
                         "); `mayfly-ca audit verify` shows the same. Nothing was copied");
  }

  auto nodes = ForEachPage<NodeRecord, std::string>(
      page_size, "", [&](const std::string& after, int limit) { return from.Nodes(after, limit); },
      [](const NodeRecord& n) { return n.name; }, [&](std::vector<NodeRecord>& page) { return to.AddNodes(page); });
  if (!nodes) return std::unexpected(nodes.error());
  auto tokens = ForEachPage<ExportedToken, std::string>(
      page_size, "", [&](const std::string& after, int limit) { return from.Tokens(after, limit); },
      [](const ExportedToken& t) { return t.token.hash; },
      [&](std::vector<ExportedToken>& page) { return to.AddTokens(page); });
  if (!tokens) return std::unexpected(tokens.error());

  auto entries = from.Entries();
  if (!entries) return std::unexpected(entries.error());
  if (auto r = to.AddEntries(*entries); !r) return std::unexpected(r.error());
  auto meta = from.Meta();
  if (!meta) return std::unexpected(meta.error());
  if (auto r = to.AddMeta(*meta); !r) return std::unexpected(r.error());
  auto admins = from.Admins();
  if (!admins) return std::unexpected(admins.error());
  if (auto r = to.AddAdmins(*admins); !r) return std::unexpected(r.error());

  if (auto r = to.Commit(report.counters); !r) return std::unexpected(r.error());
  return report;
}

Result<void> VerifyCopy(StoreExport& from, const std::string& state_dir, StoreExport& copy, Store& copy_store,
                        int page_size) {
  auto counts = from.Counts();
  if (!counts) return std::unexpected(counts.error());
  auto copy_counts = copy.Counts();
  if (!copy_counts) return std::unexpected(copy_counts.error());
  if (!(*counts == *copy_counts)) return Differs("the number of rows per table");
  auto counters = from.Counters();
  if (!counters) return std::unexpected(counters.error());
  auto copy_counters = copy.Counters();
  if (!copy_counters) return std::unexpected(copy_counters.error());
  if (!(*counters == *copy_counters)) return Differs("the CRL number, an id sequence or the audit chain's head");

  auto cas = CaCertsWithKeys(from, state_dir);
  if (!cas) return std::unexpected(cas.error());
  auto copy_cas = copy.CaCerts();
  if (!copy_cas) return std::unexpected(copy_cas.error());
  if (*cas != *copy_cas) return Differs("the CA certificate records");

  if (auto r = ComparePages<ExportedCert, int64_t>(
          page_size, "certificates",
          [](StoreExport& s, const int64_t& after, int limit) { return s.Certificates(after, limit); },
          [](const ExportedCert& c) { return c.id; }, [](const ExportedCert& c) { return "serial " + c.cert.serial; },
          [](const ExportedCert& a, const ExportedCert& b) { return a == b; }, from, copy);
      !r) {
    return r;
  }
  if (auto r = ComparePages<AuditEvent, int64_t>(
          page_size, "audit_events",
          [](StoreExport& s, const int64_t& after, int limit) { return s.AuditEvents(after, limit); },
          [](const AuditEvent& e) { return e.id; }, [](const AuditEvent& e) { return "id " + std::to_string(e.id); },
          SameEvent, from, copy);
      !r) {
    return r;
  }
  if (auto r = ComparePages<NodeRecord, std::string>(
          page_size, "nodes", [](StoreExport& s, const std::string& k, int limit) { return s.Nodes(k, limit); },
          [](const NodeRecord& n) { return n.name; }, [](const NodeRecord& n) { return n.name; }, SameNode, from,
          copy);
      !r) {
    return r;
  }
  if (auto r = ComparePages<ExportedToken, std::string>(
          page_size, "join_tokens",
          [](StoreExport& s, const std::string& k, int limit) { return s.Tokens(k, limit); },
          [](const ExportedToken& t) { return t.token.hash; },
          [](const ExportedToken& t) { return "for node " + t.token.node; },
          [](const ExportedToken& a, const ExportedToken& b) { return a == b; }, from, copy);
      !r) {
    return r;
  }
  auto entries = from.Entries();
  if (!entries) return std::unexpected(entries.error());
  auto copy_entries = copy.Entries();
  if (!copy_entries) return std::unexpected(copy_entries.error());
  if (!std::equal(entries->begin(), entries->end(), copy_entries->begin(), copy_entries->end(), SameEntry)) {
    return Differs("the registration entries");
  }
  auto meta = from.Meta();
  if (!meta) return std::unexpected(meta.error());
  auto copy_meta = copy.Meta();
  if (!copy_meta) return std::unexpected(copy_meta.error());
  if (*meta != *copy_meta) return Differs("the settings (meta)");
  auto admins = from.Admins();
  if (!admins) return std::unexpected(admins.error());
  auto copy_admins = copy.Admins();
  if (!copy_admins) return std::unexpected(copy_admins.error());
  if (!std::equal(admins->begin(), admins->end(), copy_admins->begin(), copy_admins->end(), SameAdmin)) {
    return Differs("the admin roles");
  }

  // The chain as the daemons will check it, through the store itself.
  auto check = copy_store.VerifyAuditChain();
  if (!check) return std::unexpected(check.error());
  if (check->first_bad_id) {
    return Differs("its audit chain does not verify (first bad event: " + std::to_string(*check->first_bad_id) + ")");
  }
  if (check->events != counts->audit_events) return Differs("its audit chain has another number of events");
  auto newest = copy_store.ListAudit(0, 1, std::nullopt);
  if (!newest) return std::unexpected(newest.error());
  const std::string head = newest->empty() ? "" : newest->front().hash;
  if (head != counters->last_audit_hash) return Differs("the newest audit event's hash");
  return Ok();
}

}  // namespace mayfly
