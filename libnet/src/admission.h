// Which TCP connections the server admits once it is full, and which open
// connection makes room for a new one (internal to libnet).
//
// Every admitted connection is in one stage. Handshaking: from accept until
// the headers of its first request are complete (the TLS handshake, then
// the first request line and headers). Idle: a keep-alive connection waiting
// for, or still receiving the headers of, its next request. Busy: a request's
// body, its handling, its response, and closing. At a limit, a new
// connection takes the place of the oldest handshaking connection, else of
// the least recently idle one; it is refused only when every connection that
// counts against the limit is busy. Two limits apply: max_connections over
// all, and max_per_peer per source (an IPv4 address, an IPv6 /64), where a
// source at its limit can only displace its own connections.
//
// Thread-safe; every call is O(1) (a hash lookup for the source). Eviction
// only chooses: the table stops counting the chosen connection at once and
// hands it to the caller, who closes it on the connection's own executor. A
// connection learns it was chosen from its next Enter, so a choice and the
// connection's own move to busy cannot both win.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/intrusive/list.hpp>

namespace mayfly::net {

class SessionBase;

class Admission {
 public:
  enum class Stage : uint8_t { kHandshaking, kIdle, kBusy };
  enum class Verdict : uint8_t { kAdmitted, kOverLimit, kOverPeerLimit };

  struct Limits {
    size_t max_connections = 4096;
    size_t max_per_peer = 256;
  };

  // One admitted connection's place in the table (below); opaque to its holder.
  struct Entry;

  struct Decision {
    Verdict verdict = Verdict::kOverLimit;
    Entry* entry = nullptr;  // when admitted; give it back with Release
    // The connection that made room, in the stage it was in: null when none
    // had to, or when it was already being destroyed (its place frees
    // itself). Close it on its own executor.
    std::shared_ptr<SessionBase> evicted;
    Stage evicted_stage = Stage::kHandshaking;
  };

  Admission() = default;
  ~Admission();
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // A new connection from `peer` (the source key, see PeerKey in server.cc),
  // handshaking. Limits below 1 count as 1.
  [[nodiscard]] Decision Admit(const std::string& peer, Limits limits);
  // Tells the table which session holds `entry`, for eviction.
  void Attach(Entry* entry, std::weak_ptr<SessionBase> session);
  // Moves the connection to `stage` (a new stage makes it the newest there;
  // the same stage keeps its place). False once it was chosen for eviction:
  // the connection must close. A null entry (a connection the limits do not
  // apply to) is always true.
  [[nodiscard]] bool Enter(Entry* entry, Stage stage);
  // Gives the entry back (the connection closed); null is a no-op.
  void Release(Entry* entry);

  // Connections that count against max_connections (evicted ones do not).
  size_t size() const;
  // Those of one source.
  size_t size_of(const std::string& peer) const;

 private:
  using Hook = boost::intrusive::list_member_hook<>;
  struct Peer;

 public:
  struct Entry {
    Hook all_hook;   // in all_'s list of its stage (not while busy)
    Hook peer_hook;  // in its source's list of its stage (not while busy)
    Peer* peer = nullptr;  // null once evicted
    Stage stage = Stage::kHandshaking;
    std::weak_ptr<SessionBase> session;
  };

 private:
  template <Hook Entry::*kHook>
  using List = boost::intrusive::list<Entry, boost::intrusive::member_hook<Entry, Hook, kHook>,
                                      boost::intrusive::constant_time_size<false>>;
  // Oldest first: a connection joins at the back when it enters the stage.
  template <Hook Entry::*kHook>
  struct StageLists {
    List<kHook> handshaking;
    List<kHook> idle;
  };
  struct Peer {
    std::string key;
    size_t count = 0;  // its entries that count
    StageLists<&Entry::peer_hook> lists;
  };

  // Links `e` into the lists of its stage (none when busy), at the back.
  void Link(Entry& e);
  void Unlink(Entry& e);
  // Stops counting `e`: unlinked, the source forgotten when it was its last.
  void Forget(Entry& e);
  // Takes the oldest of `lists` (handshaking first, then idle) out of the
  // table into `decision`; false when both are empty.
  template <class Lists>
  bool EvictOldest(Lists& lists, Decision& decision);

  mutable std::mutex mu_;
  StageLists<&Entry::all_hook> all_;
  std::unordered_map<std::string, Peer> peers_;  // nodes are stable: Entry keeps a pointer
  size_t live_ = 0;
};

}  // namespace mayfly::net
