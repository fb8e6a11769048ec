// Compiled loops of linkgraph's scorer (graph building, sparse products, sorting) and
// of linkgraph diff (link order, matching, referring-domain counts).
//
// Built once per install by linkgraph/scoring/_kernels.py (a C++ compiler, -O3 for
// the machine it runs on, no fast-math and no FMA contraction, so every sum is done in
// the order written: the same bits on every run and any thread count) and called
// through ctypes, which releases the GIL for the length of a call: Python threads run
// these loops side by side on ranges of rows. Each function is documented where
// _kernels.py exposes it; the names below carry their array types (i4/i8 int32/int64,
// f4/f8 float32/float64) so that the binding picks the instance its arrays need.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <new>
#include <vector>

#include <sys/mman.h>

typedef int8_t b1;  // numpy bool_: one byte, 0 or 1
typedef uint8_t u1;
typedef int16_t i2;
typedef int32_t i4;
typedef int64_t i8;
typedef uint64_t u8;
typedef float f4;
typedef double f8;

namespace {

// ptr[k] = number of keys below k (ptr[n] = all): a CSR indptr.
template <typename K>
void offsets(const K* keys, i8 m, i8 n, i8* ptr) {
    std::memset(ptr, 0, sizeof(i8) * (n + 1));
    for (i8 i = 0; i < m; ++i) ptr[keys[i] + 1] += 1;
    for (i8 i = 0; i < n; ++i) ptr[i + 1] += ptr[i];
}

template <typename C>
void count_targets(const i4* src, const i4* dst, const b1* vote, i8 n_vote, bool drop_self,
                   C* counts, C* out_links, i8 i0, i8 i1) {
    const bool all_vote = n_vote == 0;
    for (i8 i = i0; i < i1; ++i) {
        const i4 s = src[i], d = dst[i];
        if (s != d) {
            counts[d + 1] += 1;
            out_links[s] += 1;
        } else if (!drop_self && (all_vote || vote[i])) {
            counts[d + 1] += 1;
        }
    }
}

template <typename C>
void scatter_targets(const i4* src, const i4* dst, const b1* vote, i8 n_vote,
                     const f8* weight, i8 n_weight, bool drop_self, C* pos, i4* ind,
                     f8* data, i8 i0, i8 i1) {
    const bool all_vote = n_vote == 0, weighted = n_weight > 0;
    for (i8 i = i0; i < i1; ++i) {
        const i4 s = src[i], d = dst[i];
        if (s == d && (drop_self || !(all_vote || vote[i]))) continue;
        const C p = pos[d];
        ind[p] = (all_vote || vote[i]) ? s : ~s;
        if (weighted) data[p] = weight[i];
        pos[d] = p + 1;
    }
}

template <typename C>
i8 dedupe_targets(const i8* start, i4* ind, f8* data, i8 mode, bool one_marker,
                  const i4* group, i8 n_group, i8 n_groups, i8 v0, i8 v1, i8* ptr,
                  C* out_count, i8 n, i8* in_links, i8* referring, i8* referring_groups,
                  i8* followed_groups) {
    std::vector<i4> linked(n, -1);  // last target each source was seen linking to
    std::vector<i4> voted_own(one_marker ? 0 : n, -1);  // ... by a voting row
    i4* voted = one_marker ? linked.data() : voted_own.data();
    std::vector<i8> slot(mode != 0 ? n : 0);  // where that edge went
    std::vector<i4> group_seen(n_groups, -1);
    std::vector<i4> voted_group_seen(n_groups, -1);  // ... by a voting row
    const bool use_group = n_group > 0;
    i8 w = start[v0];  // compacted in place: w <= k
    for (i8 v = v0; v < v1; ++v) {
        i8 links = 0, refs = 0, groups = 0, voted_groups = 0;
        // A target's own group never refers to it: marked seen before its rows.
        if (use_group) {
            group_seen[group[v]] = (i4)v;
            voted_group_seen[group[v]] = (i4)v;
        }
        for (i8 k = start[v]; k < start[v + 1]; ++k) {
            const i4 x = ind[k];
            const bool votes = x >= 0;
            const i4 s = votes ? x : ~x;
            bool new_link = false;
            if (s != v) {
                links += 1;
                if (linked[s] != v) {
                    linked[s] = (i4)v;
                    new_link = true;
                    refs += 1;
                    if (use_group) {
                        // Branch-free: whether a group is new is a coin toss per row.
                        const i4 g = group[s];
                        groups += group_seen[g] != v;
                        group_seen[g] = (i4)v;
                    }
                }
            }
            if (votes && use_group && s != v) {
                const i4 g = group[s];
                voted_groups += voted_group_seen[g] != v;
                voted_group_seen[g] = (i4)v;
            }
            if (votes) {
                const f8 add = mode != 2 ? 1.0 : data[k];
                bool new_edge;
                if (one_marker) {
                    new_edge = new_link;
                } else {
                    new_edge = voted[s] != v;
                    voted[s] = (i4)v;
                }
                if (new_edge) {
                    ind[w] = s;
                    if (mode != 0) {
                        slot[s] = w;
                        data[w] = add;
                    }
                    if (mode != 2) out_count[s] += 1;
                    w += 1;
                } else if (mode != 0) {
                    data[slot[s]] += add;
                    if (mode != 2) out_count[s] += 1;
                }
            }
        }
        ptr[v + 1] = w;
        in_links[v] = links;
        referring[v] = refs;
        referring_groups[v] = groups;
        followed_groups[v] = voted_groups;
    }
    return w;
}

template <typename P, typename I>
void transpose(const P* indptr, const I* indices, i8 m, const f8* data, bool unit,
               i8 n_rows, i8 n_cols, i8* tptr, i4* tind, f8* tdata) {
    offsets(indices, m, n_cols, tptr);
    std::vector<i8> pos(tptr, tptr + n_cols);
    for (i8 r = 0; r < n_rows; ++r) {
        for (i8 j = indptr[r]; j < (i8)indptr[r + 1]; ++j) {
            const I c = indices[j];
            const i8 p = pos[c];
            tind[p] = (i4)r;
            if (!unit) tdata[p] = data[j];
            pos[c] = p + 1;
        }
    }
}

template <typename P, typename I, typename X>
inline f8 row_sum(const P* indptr, const I* indices, const f8* data, bool unit, const X* x,
                  i8 r) {
    f8 acc = 0.0;
    if (unit) {
        for (i8 j = indptr[r]; j < (i8)indptr[r + 1]; ++j) acc += x[indices[j]];
    } else {
        for (i8 j = indptr[r]; j < (i8)indptr[r + 1]; ++j) acc += data[j] * x[indices[j]];
    }
    return acc;
}

template <typename P, typename I, typename X, typename Y>
void pull(const P* indptr, const I* indices, const f8* data, bool unit, const X* x, Y* y,
          i8 r0, i8 r1) {
    for (i8 r = r0; r < r1; ++r) y[r] = (Y)row_sum(indptr, indices, data, unit, x, r);
}

template <typename P, typename I, typename S>
void pagerank_sweep(const P* indptr, const I* indices, const f8* data, bool unit,
                    const S* share, const f8* x, f8* y, f8 alpha, f8 add, const f8* base,
                    i8 n_base, const f8* inv_out, S* next_share, i8 r0, i8 r1, f8* result) {
    const bool use_base = n_base > 0;
    f8 delta = 0.0, lost = 0.0;
    for (i8 v = r0; v < r1; ++v) {
        f8 val = alpha * row_sum(indptr, indices, data, unit, share, v);
        val += use_base ? base[v] : add;
        y[v] = val;
        delta += std::fabs(val - x[v]);
        const f8 s = inv_out[v];
        next_share[v] = (S)(val * s);
        if (s == 0.0) lost += val;
    }
    result[0] = delta;
    result[1] = lost;
}

// Counting sort of nodes by site: first[s] where site s's nodes start in order.
void group_by_site(const i4* site, i8 n, i8 n_sites, i8* first, i8* order) {
    offsets(site, n, n_sites, first);
    std::vector<i8> pos(first, first + n_sites);
    for (i8 i = 0; i < n; ++i) order[pos[site[i]]++] = i;
}

template <typename P, typename I>
i8 collapse_rows(const P* indptr, const I* indices, const i4* site, i8 n, i8 n_sites,
                 i8* out_ptr, i4* out_ind) {
    std::vector<i8> first(n_sites + 1), order(n);
    group_by_site(site, n, n_sites, first.data(), order.data());
    std::vector<i4> mark(n_sites, -1);
    std::memset(out_ptr, 0, sizeof(i8) * (n_sites + 1));
    i8 w = 0;
    for (i8 s = 0; s < n_sites; ++s) {
        for (i8 k = first[s]; k < first[s + 1]; ++k) {
            const i8 r = order[k];
            for (i8 j = indptr[r]; j < (i8)indptr[r + 1]; ++j) {
                const i4 t = site[indices[j]];
                if (t != s && mark[t] != s) {
                    mark[t] = (i4)s;
                    out_ind[w++] = t;
                }
            }
        }
        out_ptr[s + 1] = w;
    }
    return w;
}

template <typename P, typename I>
i8 harmonic_level(const P* indptr, const I* indices, const u8* frontier, u8* seen,
                  u8* reached, f8* total, i8 level, i8 v0, i8 v1) {
    i8 found = 0;
    for (i8 v = v0; v < v1; ++v) {
        u8 word = 0;
        for (i8 j = indptr[v]; j < (i8)indptr[v + 1]; ++j) word |= frontier[indices[j]];
        word &= ~seen[v];
        reached[v] = word;
        if (word) {
            seen[v] |= word;
            total[v] += (f8)__builtin_popcountll(word) / (f8)level;
            found += 1;
        }
    }
    return found;
}


// A growable byte buffer whose large allocations ask for transparent huge pages: the
// string table's probes land at random in tens of MB, and with 4 KiB pages nearly every
// probe also missed the TLB. (Where THP is off the advice is ignored.)
struct HugeBuf {
    char* ptr = nullptr;
    i8 size = 0, cap = 0;
    HugeBuf() = default;
    HugeBuf(const HugeBuf&) = delete;
    HugeBuf& operator=(const HugeBuf&) = delete;
    ~HugeBuf() { std::free(ptr); }
    static char* alloc(i8 bytes, bool zero) {
        constexpr i8 PAGE_2M = 1 << 21;
        char* p;
        if (bytes >= 2 * PAGE_2M) {
            const i8 rounded = (bytes + PAGE_2M - 1) / PAGE_2M * PAGE_2M;
            p = static_cast<char*>(std::aligned_alloc(PAGE_2M, rounded));
            if (p) madvise(p, rounded, MADV_HUGEPAGE);
        } else {
            p = static_cast<char*>(std::malloc(bytes > 0 ? bytes : 1));
        }
        if (!p) throw std::bad_alloc();
        if (zero) std::memset(p, 0, bytes);
        return p;
    }
    void reserve(i8 want) {
        if (want <= cap) return;
        i8 grown = cap ? cap : 1 << 16;
        while (grown < want) grown *= 2;
        char* p = alloc(grown, false);
        if (size) std::memcpy(p, ptr, size);
        std::free(ptr);
        ptr = p;
        cap = grown;
    }
};

// One copy of each distinct string, with its id (ids in order of insertion). The
// strings live one after another in `data`, each behind a 16-byte header (its length,
// its id, its 64-bit hash); an open-addressing table (linear probing, at most half
// full) finds them by that hash. A slot holds the hash's top 24 bits and the offset
// of the string's header + 1 (0: empty), so a probe touches two places, the slot and
// the string with its header beside it (three with a separate offsets array), and
// reads the stored bytes only when the 24 bits match. Growing re-reads the hashes
// from the headers in one pass over `data`.
struct StringTable {
    HugeBuf data;
    u8* slots = nullptr;
    i8 n_slots = 0, count = 0;
    std::vector<i8> starts;  // header offsets by id (+ the end), made by an export
    StringTable() { resize(1 << 16); }
    ~StringTable() { std::free(slots); }
    void resize(i8 n);
};

constexpr i8 HEADER = 16;
constexpr u8 TAG = 0xFFFFFF0000000000ULL;  // top 24 bits of a hash
constexpr u8 OFFSET = ~TAG;                  // low 40 bits: header offset + 1

inline u8 mix(u8 h) {  // murmur3's 64-bit finalizer
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

inline u8 hash_bytes(const char* p, i8 len) {
    u8 h = 0x9E3779B97F4A7C15ULL ^ static_cast<u8>(len);
    i8 i = 0;
    for (; i + 8 <= len; i += 8) {
        u8 w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 32;
    }
    if (i < len) {
        u8 w = 0;
        std::memcpy(&w, p + i, static_cast<size_t>(len - i));
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    }
    return mix(h);
}

struct Header {
    uint32_t len, id;
    u8 hash;
};

inline Header header_at(const char* p) {
    Header h;
    std::memcpy(&h, p, sizeof h);
    return h;
}

void StringTable::resize(i8 n) {
    u8* fresh = reinterpret_cast<u8*>(HugeBuf::alloc(n * 8, true));
    const u8 mask = n - 1;
    for (i8 at = 0; at < data.size;) {
        const Header e = header_at(data.ptr + at);
        u8 k = e.hash & mask;
        while (fresh[k]) k = (k + 1) & mask;
        fresh[k] = (e.hash & TAG) | static_cast<u8>(at + 1);
        at += HEADER + e.len;
    }
    std::free(slots);
    slots = fresh;
    n_slots = n;
}

template <typename O>
i8 strtab_add(StringTable& t, const O* offsets, const char* bytes, i8 n, i4* ids) {
    std::vector<u8> hash(n);
    for (i8 i = 0; i < n; ++i)
        hash[i] = hash_bytes(bytes + offsets[i], static_cast<i8>(offsets[i + 1] - offsets[i]));
    // Two probes in flight: the slot of row i + 16, the stored string (and its header)
    // that row i + 8's slot points at (a hint only: the probe below is exact).
    for (i8 i = 0; i < n; ++i) {
        const u8 mask = t.n_slots - 1;
        if (i + 16 < n) __builtin_prefetch(&t.slots[hash[i + 16] & mask]);
        if (i + 8 < n) {
            const u8 slot = t.slots[hash[i + 8] & mask];
            if (slot) __builtin_prefetch(t.data.ptr + (slot & OFFSET) - 1);
        }
        const char* p = bytes + offsets[i];
        const i8 len = static_cast<i8>(offsets[i + 1] - offsets[i]);
        const u8 h = hash[i];
        u8 k = h & mask;
        i8 id = -1;
        for (u8 slot; (slot = t.slots[k]); k = (k + 1) & mask) {
            if ((slot & TAG) != (h & TAG)) continue;
            const char* e = t.data.ptr + (slot & OFFSET) - 1;
            const Header head = header_at(e);
            if (head.len == len && std::memcmp(e + HEADER, p, len) == 0) {
                id = head.id;
                break;
            }
        }
        if (id < 0) {
            if (t.count >= 0x7fffffffLL || len > 0xffffffffLL ||
                t.data.size + HEADER + len >= static_cast<i8>(OFFSET))
                return -1;
            id = t.count++;
            const i8 at = t.data.size;
            t.data.reserve(at + HEADER + len);
            const Header head{static_cast<uint32_t>(len), static_cast<uint32_t>(id), h};
            std::memcpy(t.data.ptr + at, &head, sizeof head);
            std::memcpy(t.data.ptr + at + HEADER, p, len);
            t.data.size = at + HEADER + len;
            t.slots[k] = (h & TAG) | static_cast<u8>(at + 1);
            if (t.count * 2 > t.n_slots) t.resize(t.n_slots * 2);
        }
        ids[i] = static_cast<i4>(id);
    }
    return t.count;
}

}  // namespace

extern "C" {

f8 extrapolate(const f8* x0, const f8* x1, const f8* x2, const f8* x3, const f8* inv_out,
               f8* out, i8 n) {
    f8 a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (i8 i = 0; i < n; ++i) {
        const f8 v0 = x0[i];
        const f8 d1 = x1[i] - v0, d2 = x2[i] - v0, d3 = x3[i] - v0;
        a11 += d1 * d1;
        a12 += d1 * d2;
        a22 += d2 * d2;
        b1 += d1 * d3;
        b2 += d2 * d3;
        s1 += x1[i];
        s2 += x2[i];
        s3 += x3[i];
    }
    const f8 det = a11 * a22 - a12 * a12;
    // Also false for NaN: the normal equations square the condition number, so a
    // nearly singular system is refused rather than solved to noise.
    if (!(det > 1e-10 * a11 * a22)) return -1.0;
    const f8 g1 = (a12 * b2 - a22 * b1) / det;
    const f8 g2 = (a12 * b1 - a11 * b2) / det;
    f8 c1 = g1 + g2 + 1.0, c2 = g2 + 1.0;
    const f8 total = c1 * s1 + c2 * s2 + s3;
    if (!(total > 0.0 && std::isfinite(total))) return -1.0;
    c1 /= total;
    c2 /= total;
    const f8 c3 = 1.0 / total;
    f8 lost = 0.0;
    for (i8 i = 0; i < n; ++i) {
        const f8 v = c1 * x1[i] + c2 * x2[i] + c3 * x3[i];
        out[i] = v;
        if (inv_out[i] == 0.0) lost += v;
    }
    return lost;
}

// LSD radix sort of the bit patterns (which order non-negative doubles like their
// values): four passes of 16 bits, a pass skipped when one digit holds every value.
void order_descending(const f8* values, i8 n, i8* order) {
    std::vector<u8> keys(n), key_tmp(n);
    std::vector<i8> order_tmp(n);
    for (i8 i = 0; i < n; ++i) {
        u8 bits;
        std::memcpy(&bits, values + i, sizeof bits);
        keys[i] = ~bits;  // ascending ~bits = descending values
        order[i] = i;
    }
    i8* cur = order;
    i8* other = order_tmp.data();
    u8* k = keys.data();
    u8* k_other = key_tmp.data();
    std::vector<i8> counts(65537);
    for (int shift = 0; shift < 64; shift += 16) {
        std::fill(counts.begin(), counts.end(), 0);
        for (i8 i = 0; i < n; ++i) counts[((k[i] >> shift) & 0xFFFF) + 1] += 1;
        bool one_digit = false;
        for (i8 b = 0; b < 65537; ++b) one_digit |= counts[b] == n;
        if (one_digit) continue;
        for (i8 b = 0; b < 65536; ++b) counts[b + 1] += counts[b];
        for (i8 i = 0; i < n; ++i) {
            const u8 digit = (k[i] >> shift) & 0xFFFF;
            const i8 p = counts[digit]++;
            other[p] = cur[i];
            k_other[p] = k[i];
        }
        std::swap(cur, other);
        std::swap(k, k_other);
    }
    if (cur != order) std::memcpy(order, cur, sizeof(i8) * n);
}

void vote_rows(const i2* type_code, const b1* votes_type, const b1* redirect_type,
               const b1* canonical_type, const b1* unfollowed, const i4* src, const i4* dst,
               i8 m, bool follow_nofollow, bool redirects, bool canonical, i8 n, b1* votes) {
    std::vector<b1> takeover(m, 0), owner(n, 0), redirecting(n, 0);
    for (i8 i = 0; i < m; ++i) {
        votes[i] = 0;
        const i2 t = type_code[i];
        if (t < 0) continue;
        const bool is_redirect = redirect_type[t];
        bool v = votes_type[t];
        if (!follow_nofollow && unfollowed[i] && !is_redirect) v = false;
        bool take = false;
        if (src[i] != dst[i]) {
            if (redirects && is_redirect) {
                take = true;
                redirecting[src[i]] = 1;
            }
            if (canonical && canonical_type[t]) {
                take = true;
                v = true;
            }
        }
        if (take) {
            takeover[i] = 1;
            owner[src[i]] = 1;
        }
        votes[i] = v;
    }
    for (i8 i = 0; i < m; ++i) {
        if (owner[src[i]]) {
            const i2 t = type_code[i];
            const bool is_redirect_row = takeover[i] && t >= 0 && redirect_type[t];
            votes[i] = (takeover[i] && !redirecting[src[i]]) || is_redirect_row;
        }
    }
}

#define CT(C)                                                                            \
    void count_targets_##C(const i4* src, const i4* dst, const b1* vote, i8 n_vote,     \
                           bool drop_self, C* counts, C* out_links, i8 i0, i8 i1) {     \
        count_targets<C>(src, dst, vote, n_vote, drop_self, counts, out_links, i0, i1); \
    }                                                                                    \
    void scatter_targets_##C(const i4* src, const i4* dst, const b1* vote, i8 n_vote,   \
                             const f8* weight, i8 n_weight, bool drop_self, C* pos,     \
                             i4* ind, f8* data, i8 i0, i8 i1) {                          \
        scatter_targets<C>(src, dst, vote, n_vote, weight, n_weight, drop_self, pos,    \
                           ind, data, i0, i1);                                           \
    }                                                                                    \
    i8 dedupe_targets_##C(const i8* start, i4* ind, f8* data, i8 mode, bool one_marker,  \
                          const i4* group, i8 n_group, i8 n_groups, i8 v0, i8 v1,        \
                          i8* ptr, C* out_count, i8 n, i8* in_links, i8* referring,      \
                          i8* referring_groups, i8* followed_groups) {                   \
        return dedupe_targets<C>(start, ind, data, mode, one_marker, group, n_group,     \
                                 n_groups, v0, v1, ptr, out_count, n, in_links,          \
                                 referring, referring_groups, followed_groups);          \
    }
CT(i4)
CT(i8)

#define PULL(P, I, X, Y)                                                                 \
    void pull_##P##_##I##_##X##_##Y(const P* indptr, const I* indices, const f8* data,   \
                                    bool unit, const X* x, Y* y, i8 r0, i8 r1) {         \
        pull<P, I, X, Y>(indptr, indices, data, unit, x, y, r0, r1);                     \
    }
#define SWEEP(P, I, S)                                                                   \
    void pagerank_sweep_##P##_##I##_##S(const P* indptr, const I* indices, const f8* data,\
                                        bool unit, const S* share, const f8* x, f8* y,   \
                                        f8 alpha, f8 add, const f8* base, i8 n_base,     \
                                        const f8* inv_out, S* next_share, i8 r0, i8 r1,  \
                                        f8* result) {                                    \
        pagerank_sweep<P, I, S>(indptr, indices, data, unit, share, x, y, alpha, add,    \
                                base, n_base, inv_out, next_share, r0, r1, result);      \
    }
#define BY_INDEX(P, I)                                                                   \
    void transpose_##P##_##I(const P* indptr, const I* indices, i8 m, const f8* data,    \
                             bool unit, i8 n_rows, i8 n_cols, i8* tptr, i4* tind,        \
                             f8* tdata) {                                                \
        transpose<P, I>(indptr, indices, m, data, unit, n_rows, n_cols, tptr, tind,      \
                        tdata);                                                          \
    }                                                                                    \
    PULL(P, I, f4, f4) PULL(P, I, f4, f8) PULL(P, I, f8, f4) PULL(P, I, f8, f8)          \
    SWEEP(P, I, f4) SWEEP(P, I, f8)                                                      \
    i8 collapse_rows_##P##_##I(const P* indptr, const I* indices, const i4* site, i8 n,  \
                               i8 n_sites, i8* out_ptr, i4* out_ind) {                   \
        return collapse_rows<P, I>(indptr, indices, site, n, n_sites, out_ptr, out_ind); \
    }                                                                                    \
    i8 harmonic_level_##P##_##I(const P* indptr, const I* indices, const u8* frontier,   \
                                u8* seen, u8* reached, f8* total, i8 level, i8 v0,       \
                                i8 v1) {                                                 \
        return harmonic_level<P, I>(indptr, indices, frontier, seen, reached, total,     \
                                    level, v0, v1);                                      \
    }
BY_INDEX(i4, i4)
BY_INDEX(i4, i8)
BY_INDEX(i8, i4)
BY_INDEX(i8, i8)


void* strtab_new() { return new StringTable(); }
void strtab_free(void* t) { delete static_cast<StringTable*>(t); }
i8 strtab_add_i4(void* t, const i4* offsets, const char* bytes, i8 n, i4* ids) {
    return strtab_add<i4>(*static_cast<StringTable*>(t), offsets, bytes, n, ids);
}
i8 strtab_add_i8(void* t, const i8* offsets, const char* bytes, i8 n, i4* ids) {
    return strtab_add<i8>(*static_cast<StringTable*>(t), offsets, bytes, n, ids);
}

// Rewrite ids (table ids) to ids in order of first appearance, continuing from `next`:
// remap[p] (-1: not seen yet) is p's new id, order[new id] = p. Returns the next new id.
i8 first_appearance(i4* ids, i8 n, i4* remap, i4* order, i8 next) {
    for (i8 i = 0; i < n; ++i) {
        const i4 p = ids[i];
        if (remap[p] < 0) {
            remap[p] = static_cast<i4>(next);
            order[next++] = p;
        }
        ids[i] = remap[p];
    }
    return next;
}

// The strings of ids order[0..n) one after another: out_offsets (n + 1) first, then
// (with out_data non-null) the bytes. Returns the bytes' length. Ids are in the order
// of `data`, so one pass over it finds where each string's header starts (kept for
// the second call: entry i ends where entry i + 1 starts, so the first call reads no
// header at random).
static std::vector<i8>& strtab_starts(StringTable& t) {
    std::vector<i8>& starts = t.starts;
    if (static_cast<i8>(starts.size()) != t.count + 1) {
        starts.assign(t.count + 1, 0);
        for (i8 at = 0, id = 0; at < t.data.size; ++id) {
            starts[id] = at;
            at += HEADER + header_at(t.data.ptr + at).len;
        }
        starts[t.count] = t.data.size;
    }
    return starts;
}

// The bytes of all strings; after it, exports only read the table, so threads may
// export slices side by side.
i8 strtab_bytes(void* tp) {
    StringTable& t = *static_cast<StringTable*>(tp);
    strtab_starts(t);
    return t.data.size - HEADER * t.count;
}

i8 strtab_export(void* tp, const i4* order, i8 n, i8* out_offsets, char* out_data) {
    StringTable& t = *static_cast<StringTable*>(tp);
    const std::vector<i8>& starts = strtab_starts(t);
    i8 pos = 0;
    out_offsets[0] = 0;
    for (i8 i = 0; i < n; ++i) {
        const i4 id = order[i];
        const i8 start = starts[id] + HEADER, len = starts[id + 1] - start;
        if (out_data) std::memcpy(out_data + pos, t.data.ptr + start, len);
        pos += len;
        out_offsets[i + 1] = pos;
    }
    return pos;
}

// ---- linkgraph diff: links of two crawls matched on node ids -------------------------

// Rows in the order (src, dst, type, ordinal, row): a counting sort by source (the
// links of a page are mostly contiguous, so the scatter writes runs), then each
// source's few rows sorted by the rest. Returns -1 when a source or target id is not
// in 0..n_nodes-1 (the caller falls back to its general path).
i8 link_order(const i4* src, const i4* dst, const i2* type, const i4* ordinal, i8 n,
              i8 n_nodes, i4* order) {
    std::vector<i8> start(n_nodes + 1, 0);
    i4 max_ordinal = 0, min_ordinal = 0;
    i2 max_type = 0, min_type = 0;
    for (i8 i = 0; i < n; ++i) {
        const i4 s = src[i], d = dst[i];
        if (s < 0 || s >= n_nodes || d < 0 || d >= n_nodes) return -1;
        start[s + 1] += 1;
        max_ordinal = std::max(max_ordinal, ordinal[i]);
        min_ordinal = std::min(min_ordinal, ordinal[i]);
        max_type = std::max(max_type, type[i]);
        min_type = std::min(min_type, type[i]);
    }
    for (i8 v = 0; v < n_nodes; ++v) start[v + 1] += start[v];
    {
        std::vector<i8> pos(start.begin(), start.end() - 1);
        for (i8 i = 0; i < n; ++i) order[pos[src[i]]++] = static_cast<i4>(i);
    }
    // Usually (dst, type, ordinal) fits one 64-bit key (31 + 4 + 29 bits): each run's
    // rows are sorted as contiguous (key, row) pairs, no comparator reading three
    // arrays at random. Rows of a run are ascending, so `row` breaks ties as stably.
    if (min_ordinal >= 0 && max_ordinal < (1 << 29) && min_type >= 0 && max_type < 16) {
        struct Entry {
            u8 key;
            i4 row;
            bool operator<(const Entry& o) const { return key != o.key ? key < o.key : row < o.row; }
        };
        std::vector<Entry> run;
        for (i8 v = 0; v < n_nodes; ++v) {
            const i8 a = start[v], b = start[v + 1];
            if (b - a < 2) continue;
            run.resize(b - a);
            for (i8 k = a; k < b; ++k) {
                const i4 r = order[k];
                run[k - a] = Entry{(static_cast<u8>(dst[r]) << 33) | (static_cast<u8>(type[r]) << 29)
                                       | static_cast<u8>(ordinal[r]), r};
            }
            std::sort(run.begin(), run.end());
            for (i8 k = a; k < b; ++k) order[k] = run[k - a].row;
        }
        return 0;
    }
    auto less = [&](i4 a, i4 b) {
        if (dst[a] != dst[b]) return dst[a] < dst[b];
        if (type[a] != type[b]) return type[a] < type[b];
        if (ordinal[a] != ordinal[b]) return ordinal[a] < ordinal[b];
        return a < b;
    };
    for (i8 v = 0; v < n_nodes; ++v) {
        i4* first = order + start[v];
        i4* last = order + start[v + 1];
        if (last - first > 1) std::sort(first, last, less);
    }
    return 0;
}

namespace {

inline int compare_links(i4 s1, i4 d1, i2 t1, i8 k1, i4 s2, i4 d2, i2 t2, i8 k2) {
    if (s1 != s2) return s1 < s2 ? -1 : 1;
    if (d1 != d2) return d1 < d2 ? -1 : 1;
    if (t1 != t2) return t1 < t2 ? -1 : 1;
    if (k1 != k2) return k1 < k2 ? -1 : 1;
    return 0;
}

// A string column as Arrow holds it: offsets (n + 1; int64 when `wide`, else int32),
// bytes, and valid (null: no nulls).
struct Strings {
    const void* offsets;
    bool wide;
    const char* bytes;
    const b1* valid;
    bool null_at(i8 i) const { return valid && !valid[i]; }
    i8 at(i8 i) const {
        return wide ? static_cast<const i8*>(offsets)[i] : static_cast<const i4*>(offsets)[i];
    }
};

inline bool distinct(const Strings& a, i8 i, const Strings& b, i8 j) {
    const bool na = a.null_at(i), nb = b.null_at(j);
    if (na || nb) return na != nb;
    const i8 sa = a.at(i), sb = b.at(j), la = a.at(i + 1) - sa, lb = b.at(j + 1) - sb;
    return la != lb || std::memcmp(a.bytes + sa, b.bytes + sb, la) != 0;
}

}  // namespace

// One merge pass over two link lists in link_order: the k-th of equal (src, dst, type)
// rows in OLD is the k-th in NEW (its occurrence, 1-based). Emits every row of one
// side only (kind 0: OLD's, lost; kind 2: NEW's, new) and every pair whose flags or
// anchor differ or whose target's class moved (kind 1), with its rows and occurrence.
// Writes at most `cap` rows; returns how many there are (call again with more room
// when that is over `cap`).
i8 match_links(const i4* o_src, const i4* o_dst, const i2* o_type, const i4* o_order,
               const u1* o_flags, const void* o_off, const char* o_bytes, const b1* o_valid,
               i8 o_wide, i8 n_o,
               const i4* n_src, const i4* n_dst, const i2* n_type, const i4* n_order,
               const u1* n_flags, const void* n_off, const char* n_bytes, const b1* n_valid,
               i8 n_wide, i8 n_n,
               const b1* moved, i8 cap, b1* kind, i4* o_row, i4* n_row, i4* occurrence) {
    const Strings oa{o_off, o_wide != 0, o_bytes, o_valid}, na{n_off, n_wide != 0, n_bytes, n_valid};
    i8 i = 0, j = 0, w = 0, ko = 0, kn = 0;
    i4 ps = -1, pd = -1;  // OLD's previous link (to count occurrences)
    i2 pt = -1;
    i4 qs = -1, qd = -1;  // NEW's
    i2 qt = -1;
    auto emit = [&](b1 k, i4 a, i4 b, i8 occ) {
        if (w < cap) {
            kind[w] = k;
            o_row[w] = a;
            n_row[w] = b;
            occurrence[w] = static_cast<i4>(occ);
        }
        ++w;
    };
    // Occurrence of the next row of each side, counted when the side moves to it.
    auto next_old = [&]() {
        const i4 a = o_order[i];
        ko = (o_src[a] == ps && o_dst[a] == pd && o_type[a] == pt) ? ko + 1 : 1;
        ps = o_src[a]; pd = o_dst[a]; pt = o_type[a];
    };
    auto next_new = [&]() {
        const i4 b = n_order[j];
        kn = (n_src[b] == qs && n_dst[b] == qd && n_type[b] == qt) ? kn + 1 : 1;
        qs = n_src[b]; qd = n_dst[b]; qt = n_type[b];
    };
    if (i < n_o) next_old();
    if (j < n_n) next_new();
    while (i < n_o || j < n_n) {
        int c;
        if (i >= n_o) {
            c = 1;
        } else if (j >= n_n) {
            c = -1;
        } else {
            c = compare_links(ps, pd, pt, ko, qs, qd, qt, kn);
        }
        if (c < 0) {
            emit(0, o_order[i], -1, ko);
            if (++i < n_o) next_old();
        } else if (c > 0) {
            emit(2, -1, n_order[j], kn);
            if (++j < n_n) next_new();
        } else {
            const i4 a = o_order[i], b = n_order[j];
            if (o_flags[a] != n_flags[b] || moved[pd] || distinct(oa, a, na, b))
                emit(1, a, b, ko);
            if (++i < n_o) next_old();
            if (++j < n_n) next_new();
        }
    }
    return w;
}

// counts[c] = the rows i0..i1 whose (group[src], group[dst]) is pair c of `pairs`
// (distinct keys a * n_groups + b; rows with a group -1 never count). An
// open-addressing table of the pairs (key and count side by side: one cache line a
// probe), behind a bitmap of hash bits that turns most rows away from L2.
void count_pairs(const i4* src, const i4* dst, i8 i0, i8 i1, const i4* group, i8 n_nodes,
                 i8 n_groups, const i8* pairs, i8 n_pairs, i8* counts) {
    struct Slot {
        i8 key, count;
    };
    i8 cap = 16;
    while (cap < 2 * n_pairs) cap *= 2;
    const u8 mask = static_cast<u8>(cap - 1);
    std::vector<Slot> slots(cap, Slot{-1, 0});
    const u8 bits = static_cast<u8>(std::max<i8>(1 << 12, 8 * cap));  // power of two
    std::vector<u8> filter(bits / 64, 0);
    for (i8 c = 0; c < n_pairs; ++c) {
        const u8 h = mix(static_cast<u8>(pairs[c]));
        u8 k = h & mask;
        while (slots[k].key >= 0) k = (k + 1) & mask;
        slots[k].key = pairs[c];
        const u8 b = (h >> 32) & (bits - 1);
        filter[b >> 6] |= 1ULL << (b & 63);
    }
    for (i8 i = i0; i < i1; ++i) {
        const i4 s = src[i], d = dst[i];
        if (s < 0 || s >= n_nodes || d < 0 || d >= n_nodes) continue;
        const i4 a = group[s], b = group[d];
        if (a < 0 || b < 0) continue;
        const i8 key = static_cast<i8>(a) * n_groups + b;
        const u8 h = mix(static_cast<u8>(key));
        const u8 f = (h >> 32) & (bits - 1);
        if (!(filter[f >> 6] >> (f & 63) & 1)) continue;
        for (u8 k = h & mask; slots[k].key >= 0; k = (k + 1) & mask) {
            if (slots[k].key == key) {
                slots[k].count += 1;
                break;
            }
        }
    }
    for (i8 c = 0; c < n_pairs; ++c) {
        u8 k = mix(static_cast<u8>(pairs[c])) & mask;
        while (slots[k].key != pairs[c]) k = (k + 1) & mask;
        counts[c] = slots[k].count;
    }
}

}  // extern "C"
