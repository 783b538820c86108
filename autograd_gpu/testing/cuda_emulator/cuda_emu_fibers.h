// cuda_emu_fibers.h: the launch engine behind cuda_emu.h. Threads of a block are ucontext fibers on one
// OS thread, switched with _setjmp/_longjmp; barriers and warp collectives park a fiber until every
// participant has arrived, and anything else (divergence, deadlock, assert) becomes an error message.
#pragma once

// The engine state below is made of inline variables, which g++ emits as STB_GNU_UNIQUE symbols: the
// dynamic linker merges them across every kernel library in the process (even RTLD_LOCAL), so all kernels
// share one lock and one pool of fiber stacks. CUDA_EMU_ABI (a hash of headers, flags and compiler, set by
// _build.py) keeps libraries built differently from sharing state whose layout differs.
#ifndef CUDA_EMU_ABI
#define CUDA_EMU_ABI abi_unversioned
#endif
namespace cuda_emu {
inline namespace CUDA_EMU_ABI {
enum : int { F_RUN, F_BAR, F_WARP, F_DONE, F_FAILED };
enum : int { W_IDX, W_UP, W_DOWN, W_XOR, W_BALLOT, W_SYNC };

struct Fiber {
    jmp_buf jb;
    char* stack = nullptr;
    size_t stack_size = 0;
    bool started = false;
    int state = F_DONE;
    const char* file = "";
    int line = 0;
    uint3 tid{0, 0, 0};
    int op = 0, arg = 0, width = 32, pred = 0, bres = 0;
    unsigned mask = 0;
    unsigned long long val = 0, res = 0;
    void* fake_stack = nullptr;
};

struct Launch {
    Fiber** fibers = nullptr;
    unsigned capacity = 0, n = 0;
    Fiber* cur = nullptr;
    jmp_buf sched, direct;
    bool failed = false, fiber_mode = false;
    char msg[1024];
    void (*body)(void*) = nullptr;
    void* ctx = nullptr;
    const void* main_bottom = nullptr;
    size_t main_size = 0;
    void* main_fake = nullptr;
};

inline Launch L;
inline uint3 g_tid{0, 0, 0}, g_bid{0, 0, 0};
inline dim3 g_bdim, g_gdim;
inline void* g_dyn_smem = nullptr;
inline pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;

inline void asan_start(void** save, const void* bottom, size_t size) {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(save, bottom, size);
#else
    (void)save, (void)bottom, (void)size;
#endif
}
inline void asan_finish(void* save, const void** bottom, size_t* size) {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(save, bottom, size);
#else
    (void)save, (void)bottom, (void)size;
#endif
}

inline void where(char* buf, size_t len, const Fiber* f) {
    snprintf(buf, len, "block (%u,%u,%u) thread (%u,%u,%u)", g_bid.x, g_bid.y, g_bid.z, f->tid.x, f->tid.y,
             f->tid.z);
}

// Called on a fiber stack: park this fiber and resume the scheduler (plain _setjmp/_longjmp: no signal
// mask syscall per switch, unlike swapcontext).
inline void to_scheduler(Fiber* f) {
    if (_setjmp(f->jb) == 0) {
        asan_start(&f->fake_stack, L.main_bottom, L.main_size);
        _longjmp(L.sched, 1);
    }
    asan_finish(f->fake_stack, &L.main_bottom, &L.main_size);
}

[[noreturn]] inline void fail(const char* what) {
    snprintf(L.msg, sizeof L.msg, "%s", what);
    L.failed = true;
    if (L.fiber_mode) {
        L.cur->state = F_FAILED;
        to_scheduler(L.cur);
        __builtin_unreachable();  // the scheduler never resumes a failed fiber
    }
    _longjmp(L.direct, 1);
}
inline void fail_assert(const char* expr, const char* file, int line) {
    char w[96], m[512];
    where(w, sizeof w, L.cur);
    snprintf(m, sizeof m, "device-side assert failed: %s:%d: `%s` (%s)", file, line, expr, w);
    fail(m);
}

inline void fiber_entry() {
    asan_finish(nullptr, &L.main_bottom, &L.main_size);
    for (;;) {
        L.body(L.ctx);
        L.cur->state = F_DONE;
        to_scheduler(L.cur);  // resumed for the next block: run the body again on the same stack
    }
}

inline void run_fiber(Fiber* f) {
    L.cur = f;
    g_tid = f->tid;
    if (_setjmp(L.sched) == 0) {
        asan_start(&L.main_fake, f->stack, f->stack_size);
        if (!f->started) {
            f->started = true;
            ucontext_t uc;
            getcontext(&uc);
            uc.uc_stack.ss_sp = f->stack;
            uc.uc_stack.ss_size = f->stack_size;
            uc.uc_link = nullptr;
            makecontext(&uc, fiber_entry, 0);
            // setcontext, not swapcontext: nothing returns through the old context (the fiber comes back
            // through L.sched), and ASan's swapcontext interceptor warns about false positives.
            setcontext(&uc);
        }
        _longjmp(f->jb, 1);
    }
    asan_finish(L.main_fake, nullptr, nullptr);
}

inline bool ensure_fibers(unsigned n) {
    if (n <= L.capacity) return true;
    Fiber** grown = (Fiber**)realloc(L.fibers, n * sizeof(Fiber*));
    if (!grown) return false;
    L.fibers = grown;
    const char* env = getenv("AUTOGRAD_GPU_EMU_STACK_KB");
#if defined(__SANITIZE_ADDRESS__)
    size_t kb = 512;  // ASan redzones make frames several times larger
#else
    size_t kb = 128;
#endif
    if (env && atoi(env) > 0) kb = (size_t)atoi(env);
    for (unsigned i = L.capacity; i < n; ++i) {
        Fiber* f = new Fiber();
        f->stack_size = kb * 1024;
        // A PROT_NONE guard page under each stack turns an overflow into a fault at the culprit.
        char* m = (char*)mmap(nullptr, f->stack_size + 4096, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return false;
        mprotect(m, 4096, PROT_NONE);
        f->stack = m + 4096;
        L.fibers[i] = f;
        L.capacity = i + 1;
    }
    return true;
}

inline const char* opname(int op) {
    static const char* names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync",
                                  "__ballot_sync", "__syncwarp"};
    return names[op];
}

// Resolve the warp collectives whose every participating lane has arrived. Returns 1 if any resumed.
inline int release_warps() {
    int any = 0;
    for (unsigned lo = 0; lo < L.n; lo += 32) {
        unsigned hi = lo + 32 < L.n ? lo + 32 : L.n, done = 0;
        for (unsigned i = lo; i < hi; ++i) {
            Fiber* a = L.fibers[i];
            if (a->state != F_WARP || (done >> (i - lo) & 1u)) continue;
            bool ready = true;
            for (unsigned j = lo; j < hi; ++j) {
                if (!(a->mask >> (j - lo) & 1u)) continue;
                Fiber* b = L.fibers[j];
                char w[96], m[700];
                if (b->state == F_DONE || (b->state == F_WARP && (b->line != a->line || b->op != a->op ||
                                                                  strcmp(b->file, a->file) != 0))) {
                    where(w, sizeof w, b);
                    snprintf(m, sizeof m, "divergent warp collective: lane %u waits in %s at %s:%d "
                             "(mask 0x%x) but %s %s", i - lo, opname(a->op), a->file, a->line, a->mask, w,
                             b->state == F_DONE ? "has exited" : "is at a different collective");
                    snprintf(L.msg, sizeof L.msg, "%s", m);
                    return -1;
                }
                if (b->state != F_WARP) ready = false;
            }
            if (!ready) continue;
            unsigned ballot = 0;
            for (unsigned j = lo; j < hi; ++j)
                if ((a->mask >> (j - lo) & 1u) && L.fibers[j]->pred) ballot |= 1u << (j - lo);
            for (unsigned j = lo; j < hi; ++j) {
                if (!(a->mask >> (j - lo) & 1u)) continue;
                Fiber* b = L.fibers[j];
                int lane = (int)(j - lo), w = b->width, src = lane, base = lane & ~(w - 1);
                switch (b->op) {
                    case W_IDX: src = base + (b->arg & (w - 1)); break;
                    case W_UP: src = (lane - base) >= b->arg ? lane - b->arg : lane; break;
                    case W_DOWN: src = (lane - base) + b->arg < w ? lane + b->arg : lane; break;
                    case W_XOR: src = lane ^ b->arg; if ((src & ~(w - 1)) > base) src = lane; break;
                    default: break;
                }
                unsigned s = lo + (unsigned)src;
                // A source lane outside the block or outside the mask is undefined on a GPU: own value.
                bool ok = s < hi && (a->mask >> src & 1u);
                b->res = b->op == W_BALLOT ? ballot : (ok ? L.fibers[s]->val : b->val);
                b->state = F_RUN;
                done |= 1u << (j - lo);
            }
            any = 1;
        }
    }
    return any;
}

// Nothing is runnable: resume a complete barrier or warp collective. 0 = block finished, 1 = resumed,
// -1 = divergence or deadlock (message in L.msg).
inline int release() {
    unsigned ndone = 0, nbar = 0, nwarp = 0;
    Fiber *bar = nullptr, *gone = nullptr, *warp = nullptr;
    for (unsigned i = 0; i < L.n; ++i) {
        Fiber* f = L.fibers[i];
        if (f->state == F_DONE) ndone++, gone = gone ? gone : f;
        else if (f->state == F_BAR) nbar++, bar = bar ? bar : f;
        else if (f->state == F_WARP) nwarp++, warp = warp ? warp : f;
    }
    if (ndone == L.n) return 0;
    if (nwarp) {
        int r = release_warps();
        if (r != 0) return r;
    }
    char w1[96], w2[96];
    if (nbar && nbar + ndone == L.n) {
        for (unsigned i = 0; i < L.n; ++i) {
            Fiber* f = L.fibers[i];
            if (f->state == F_BAR && (f->line != bar->line || strcmp(f->file, bar->file) != 0)) {
                where(w1, sizeof w1, bar), where(w2, sizeof w2, f);
                snprintf(L.msg, sizeof L.msg, "divergent __syncthreads(): %s waits at %s:%d, %s at %s:%d", w1,
                         bar->file, bar->line, w2, f->file, f->line);
                return -1;
            }
        }
        if (ndone == 0) {
            int count = 0;
            for (unsigned i = 0; i < L.n; ++i) count += L.fibers[i]->pred != 0;
            for (unsigned i = 0; i < L.n; ++i) L.fibers[i]->bres = count, L.fibers[i]->state = F_RUN;
            return 1;
        }
        where(w1, sizeof w1, bar), where(w2, sizeof w2, gone);
        snprintf(L.msg, sizeof L.msg, "divergent __syncthreads() (a GPU hangs or corrupts here): %s waits at "
                 "%s:%d but %s has already exited; %u of %u threads reached the barrier", w1, bar->file,
                 bar->line, w2, nbar, L.n);
        return -1;
    }
    Fiber* f = warp ? warp : bar;
    where(w1, sizeof w1, f);
    snprintf(L.msg, sizeof L.msg, "deadlock: %s waits in %s at %s:%d, which the threads it waits for never "
             "reach (%u at __syncthreads, %u in warp collectives, %u exited)", w1,
             f->state == F_BAR ? "__syncthreads" : opname(f->op), f->file, f->line, nbar, nwarp, ndone);
    return -1;
}

inline int run_block_fibers() {
    for (unsigned i = 0; i < L.n; ++i) L.fibers[i]->state = F_RUN;
    for (;;) {
        for (unsigned i = 0; i < L.n; ++i) {
            if (L.fibers[i]->state != F_RUN) continue;
            run_fiber(L.fibers[i]);
            if (L.failed) return -1;
        }
        int r = release();
        if (r <= 0) return r;
    }
}

inline int run_block_direct() {
    for (unsigned i = 0; i < L.n; ++i) {
        g_tid = L.fibers[0]->tid = uint3{i % g_bdim.x, (i / g_bdim.x) % g_bdim.y, i / (g_bdim.x * g_bdim.y)};
        L.cur = L.fibers[0];
        if (_setjmp(L.direct) != 0) return -1;
        L.body(L.ctx);
    }
    return 0;
}

// The grid loop behind every launch shim. Returns 0, or 2 with a message in err.
inline int run_grid(void (*body)(void*), void* ctx, const unsigned* g, const unsigned* b, size_t smem,
                    int fiber_mode, char* err, size_t errlen) {
    pthread_mutex_lock(&g_mutex);
    L.n = b[0] * b[1] * b[2];
    int rc = 0;
    if (!ensure_fibers(fiber_mode ? L.n : 1)) {
        snprintf(err, errlen, "emulator: cannot allocate %u fiber stacks", L.n);
        pthread_mutex_unlock(&g_mutex);
        return 2;
    }
    L.body = body, L.ctx = ctx, L.failed = false, L.fiber_mode = fiber_mode != 0;
    g_bdim = dim3(b[0], b[1], b[2]), g_gdim = dim3(g[0], g[1], g[2]);
    for (unsigned i = 0; fiber_mode && i < L.n; ++i)
        L.fibers[i]->tid = uint3{i % b[0], (i / b[0]) % b[1], i / (b[0] * b[1])};
    // malloc'd (not pooled) so that ASan sees the exact size the launch asked for.
    g_dyn_smem = smem ? malloc(smem) : nullptr;
    for (unsigned z = 0; z < g[2] && rc == 0; ++z)
        for (unsigned y = 0; y < g[1] && rc == 0; ++y)
            for (unsigned x = 0; x < g[0] && rc == 0; ++x) {
                g_bid = uint3{x, y, z};
                // A GPU leaves shared memory uninitialised: NaN (all ones) makes reads before writes show.
                if (smem) memset(g_dyn_smem, 0xFF, smem);
                rc = fiber_mode ? run_block_fibers() : run_block_direct();
            }
    free(g_dyn_smem);
    g_dyn_smem = nullptr;
    if (rc != 0) {
        snprintf(err, errlen, "%s", L.msg);
        // Abandoned fibers stop mid-body: restart them from scratch on the next launch.
        for (unsigned i = 0; i < L.capacity; ++i) {
            L.fibers[i]->started = false;
#if defined(__SANITIZE_ADDRESS__)
            ASAN_UNPOISON_MEMORY_REGION(L.fibers[i]->stack, L.fibers[i]->stack_size);
#endif
        }
    }
    pthread_mutex_unlock(&g_mutex);
    return rc == 0 ? 0 : 2;
}

inline Fiber* collective(const char* what) {
    if (!L.fiber_mode) {
        char m[160];
        snprintf(m, sizeof m, "emulator: %s reached in a kernel launched without fibers", what);
        fail(m);
    }
    return L.cur;
}
inline int sync_block(int pred, const char* file, int line) {
    Fiber* f = collective("__syncthreads");
    f->state = F_BAR, f->pred = pred, f->file = file, f->line = line;
    to_scheduler(f);
    return L.cur->bres;
}
inline unsigned long long warp_op(int op, unsigned mask, unsigned long long v, int arg, int width,
                                  const char* file, int line) {
    Fiber* f = collective(opname(op));
    if (width <= 0 || width > 32 || (width & (width - 1)))
        fail("warp shuffle: width must be a power of 2, <= 32");
    f->state = F_WARP, f->op = op, f->mask = mask, f->val = v, f->pred = v != 0, f->arg = arg;
    f->width = width, f->file = file, f->line = line;
    to_scheduler(f);
    return L.cur->res;
}
template <class T> inline T shfl(int op, unsigned mask, T v, int arg, int width, const char* file, int line) {
    static_assert(sizeof(T) <= 8, "warp shuffle of a type wider than 8 bytes");
    unsigned long long bits = 0;
    memcpy(&bits, &v, sizeof(T));
    bits = warp_op(op, mask, bits, arg, width, file, line);
    memcpy(&v, &bits, sizeof(T));
    return v;
}
inline void* dyn_smem() { return g_dyn_smem; }
inline unsigned lanes_present() {
    unsigned lin = g_tid.x + g_bdim.x * (g_tid.y + g_bdim.y * g_tid.z), left = L.n - (lin & ~31u);
    return left >= 32 ? 0xffffffffu : (1u << left) - 1u;
}
template <class T>
inline T shfl_at(const char* file, int line, int op, unsigned mask, T v, int arg, int width = 32) {
    return shfl(op, mask, v, arg, width, file, line);
}
inline void syncwarp_at(const char* file, int line, unsigned mask = 0xffffffffu) {
    warp_op(W_SYNC, mask, 0, 0, 32, file, line);
}
inline unsigned ballot_at(const char* file, int line, unsigned mask, int pred) {
    return (unsigned)warp_op(W_BALLOT, mask, pred != 0, 0, 32, file, line);
}

template <class... P, size_t... I>
inline void call_kernel(void (*k)(P...), void** args, std::index_sequence<I...>) {
    k(*static_cast<P*>(args[I])...);
}
template <class... P> struct Bound { void (*k)(P...); void** args; };
template <class... P> inline void bound_body(void* c) {
    auto* b = static_cast<Bound<P...>*>(c);
    call_kernel(b->k, b->args, std::index_sequence_for<P...>{});
}
template <class... P>
inline int launch(void (*k)(P...), const unsigned* g, const unsigned* b, void** args, size_t smem, int fibers,
                  char* err, size_t errlen) {
    Bound<P...> bound{k, args};
    return run_grid(&bound_body<P...>, &bound, g, b, smem, fibers, err, errlen);
}
// Parameter signature for the Python-side argument checks: size | kind << 32
// (kind 1 pointer, 2 floating, 3 integral, 4 other).
template <class T> constexpr long long param_code() {
    long long kind = std::is_pointer_v<T> ? 1 : (std::is_floating_point_v<T> || std::is_same_v<T, __half>) ? 2
                     : std::is_integral_v<T> ? 3 : 4;
    return (long long)sizeof(T) | (kind << 32);
}
template <class... P> inline int signature(void (*)(P...), long long* out) {
    int i = 0;
    ((out[i++] = param_code<P>()), ...);
    return i;
}

// GCC __atomic builtins rather than std::atomic_ref: <atomic> alone costs 0.6 s of g++ time per kernel.
// Floating types go through a compare-exchange loop on their bit pattern.
template <class T> inline T atomic_rmw(T* p, T v, int op) {
    if constexpr (std::is_integral_v<T>) {
        switch (op) {
            case 0: return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
            case 1: return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
            case 2: return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST);
            case 3: return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);
            case 4: return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
            default: return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);
        }
    } else {
        T old = *p, next;
        do {
            next = op == 0 ? (T)(old + v) : v;
        } while (!__atomic_compare_exchange(p, &old, &next, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
        return old;
    }
}
}  // inline namespace CUDA_EMU_ABI
}  // namespace cuda_emu