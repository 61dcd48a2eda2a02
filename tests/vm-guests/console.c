/* A minimal multiport virtio-console driver (virtio 1.x section 5.3), polling, for the builtin
 * VMM's device (microvm/virtio_console.h), and test=console, its test. Written from the spec,
 * independently of the VMM, with the flow of Linux's driver: MULTIPORT, DEVICE_READY, then
 * PORT_ADD -> receive buffers and PORT_READY, CONSOLE_PORT, PORT_NAME, PORT_OPEN from the device,
 * PORT_OPEN 1 from the guest. The driver's calls are in guest.h, for test=agent (agent.c) too.
 *
 * test=console ports=NAME,NAME[,...] [hvc=1] op=echo|close|hostile ...
 *   ports=  the named ports, in the order of their ids from 1; hvc=1: port 0 is the console,
 *           which says "guest: hello on hvc0" on it.
 *   op=echo n=N sum=X   reads N bytes from "hutch.stdin" and writes them back on "hutch.control";
 *                       their FNV-1a sum must be X.
 *   op=close n=N        reads from "hutch.stdin" until the device says the host closed it
 *                       (PORT_OPEN 0): exactly N bytes must have come before.
 *   op=hostile kind=bad_control|short_control|outside_ram   breaks the device's rules: it must
 *                       stop (DEVICE_NEEDS_RESET), and after a reset work again. */
#include "guest.h"

#define REG_DEVICE_ID 0x008
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL 0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM 0x038
#define REG_QUEUE_READY 0x044
#define REG_QUEUE_NOTIFY 0x050
#define REG_STATUS 0x070
#define REG_QUEUE_DESC 0x080
#define REG_QUEUE_DRIVER 0x090
#define REG_QUEUE_DEVICE 0x0a0
#define REG_CONFIG 0x100
#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8
#define ST_NEEDS_RESET 0x40
#define F_MULTIPORT (1u << 1)
#define DESC_WRITE 2

#define EV_DEVICE_READY 0
#define EV_PORT_ADD 1
#define EV_PORT_READY 3
#define EV_CONSOLE_PORT 4
#define EV_PORT_OPEN 6
#define EV_PORT_NAME 7

#define QN 16       /* entries per queue */
#define MAX_PORTS 4 /* port 0 and three named */
#define MAX_QUEUES (2 * (MAX_PORTS + 1))
#define RX_SIZE CONSOLE_RX_SIZE /* a port's receive buffer */
#define CTL_SIZE 128 /* a control receive buffer */
#define RESET (-1)   /* what a wait returns when the device stopped */

/* A queue in one page: descriptors, the available ring at 256, the used ring at 512. Descriptor i
 * always describes buffer i of its queue: chains are one descriptor long. */
struct queue {
    struct {
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
    } table[QN];
    struct {
        uint16_t flags, idx, ring[QN], event;
    } avail __attribute__((aligned(256)));
    struct {
        uint16_t flags, idx;
        struct {
            uint32_t id, len;
        } ring[QN];
    } used __attribute__((aligned(256)));
    uint16_t last_used;
} __attribute__((aligned(4096)));

static struct queue queues[MAX_QUEUES];
static uint8_t rx_buffers[MAX_PORTS][QN][RX_SIZE]; /* port id's receive buffers */
static uint8_t ctl_buffers[QN][CTL_SIZE];
static struct {
    uint32_t id;
    uint16_t event, value;
} ctl_out;
static uint64_t base;
static uint32_t max_ports;
static struct port {
    int added, console, host_open, name_length;
    char name[64];
} ports[MAX_PORTS];

static uint32_t rd(uint32_t offset) { return *(volatile uint32_t*)(uintptr_t)(base + offset); }
static void wr(uint32_t offset, uint32_t value) { *(volatile uint32_t*)(uintptr_t)(base + offset) = value; }
static void wr64(uint32_t offset, uint64_t value) {
    wr(offset, (uint32_t)value);
    wr(offset + 4, (uint32_t)(value >> 32));
}
static int needs_reset(void) { return (rd(REG_STATUS) & ST_NEEDS_RESET) != 0; }

static int rx_queue(uint32_t id) { return id == 0 ? 0 : (int)(2 * id + 2); }

/* Makes descriptor `d` of queue q, `len` bytes at `buffer`, available (without a notify). */
static void post(int q, uint16_t d, const void* buffer, uint32_t len, int writable) {
    struct queue* vq = &queues[q];
    vq->table[d].addr = (uint64_t)(uintptr_t)buffer;
    vq->table[d].len = len;
    vq->table[d].flags = writable ? DESC_WRITE : 0;
    vq->avail.ring[vq->avail.idx % QN] = d;
    __sync_synchronize();
    vq->avail.idx = (uint16_t)(vq->avail.idx + 1);
    __sync_synchronize();
}
static void notify(int q) { wr(REG_QUEUE_NOTIFY, (uint32_t)q); }

/* The next used descriptor of queue q and its length, or -1 when there is none yet. */
static int take_used(int q, uint32_t* len) {
    struct queue* vq = &queues[q];
    if (*(volatile uint16_t*)&vq->used.idx == vq->last_used) return -1;
    __sync_synchronize();
    int d = (int)vq->used.ring[vq->last_used % QN].id;
    *len = vq->used.ring[vq->last_used % QN].len;
    ++vq->last_used;
    return d < QN ? d : -1;
}
/* Waits for one: the device answers from its own thread, so it may come after the notify. */
static int wait_used(int q, uint32_t* len) {
    for (uint64_t spins = 0;; ++spins) {
        int d = take_used(q, len);
        if (d >= 0) return d;
        if (spins % 4096 == 0 && needs_reset()) return RESET;
        if (spins > (1ull << 34)) {
            check(0, "a used buffer in time, queue", (uint64_t)q, 0);
            return RESET;
        }
    }
}

static int send_control(uint32_t id, uint16_t event, uint16_t value, uint32_t len) {
    ctl_out.id = id;
    ctl_out.event = event;
    ctl_out.value = value;
    post(3, 0, &ctl_out, len, 0);
    notify(3);
    uint32_t ignored;
    return wait_used(3, &ignored) == RESET ? RESET : 0;
}

static void handle_control(const uint8_t* message, uint32_t len) {
    if (len < 8) return check(0, "control message length", len, 8);
    uint32_t id = *(const uint32_t*)message;
    uint16_t event = *(const uint16_t*)(message + 4), value = *(const uint16_t*)(message + 6);
    if (id >= max_ports || id >= MAX_PORTS) return check(0, "control message's port", id, max_ports);
    struct port* port = &ports[id];
    if (event == EV_PORT_ADD) {
        port->added = 1;
        int q = rx_queue(id);
        for (uint16_t d = 0; d < QN; ++d) post(q, d, rx_buffers[id][d], RX_SIZE, 1);
        notify(q);
        send_control(id, EV_PORT_READY, 1, 8);
    } else if (event == EV_CONSOLE_PORT) {
        port->console = 1;
    } else if (event == EV_PORT_NAME) {
        port->name_length = (int)(len - 8 < sizeof port->name ? len - 8 : sizeof port->name);
        for (int i = 0; i < port->name_length; ++i) port->name[i] = (char)message[8 + i];
    } else if (event == EV_PORT_OPEN) {
        port->host_open = value;
    }
}
/* Handles every control message the device has given, and gives its buffers back. */
static void poll_control(void) {
    uint32_t len;
    int d;
    while ((d = take_used(2, &len)) >= 0) {
        handle_control(ctl_buffers[d], len);
        post(2, (uint16_t)d, ctl_buffers[d], CTL_SIZE, 1);
        notify(2);
    }
}

/* Whether port `id` carries name number `index` (from 0) of "ports=a,b,c". */
static int named(uint32_t id, uint32_t index) {
    size_t n;
    const char* list = arg("ports", &n);
    for (uint32_t i = 0; list && i < index; ++i) {
        while (n && *list != ',') ++list, --n;
        if (n) ++list, --n;
    }
    size_t length = 0;
    while (list && length < n && list[length] != ',') ++length;
    if (!list || (size_t)ports[id].name_length != length) return 0;
    for (size_t i = 0; i < length; ++i)
        if (ports[id].name[i] != list[i]) return 0;
    return 1;
}
uint32_t console_port(const char* name) {
    for (uint32_t id = 0; id < MAX_PORTS; ++id) {
        int i = 0;
        while (i < ports[id].name_length && name[i] == ports[id].name[i]) ++i;
        if (ports[id].name_length && i == ports[id].name_length && !name[i]) return id;
    }
    check(0, "a port named as asked", 0, 1);
    return 0;
}

/* Resets the device and sets it up: MULTIPORT, every queue, DRIVER_OK, control buffers, and
 * DEVICE_READY. Returns 0, or RESET. */
static int start_device(void) {
    check(rd(REG_DEVICE_ID) == 3, "virtio device id", rd(REG_DEVICE_ID), 3);
    wr(REG_STATUS, 0);
    wr(REG_STATUS, ST_ACK | ST_DRIVER);
    wr(REG_DEVICE_FEATURES_SEL, 0);
    uint32_t offered = rd(REG_DEVICE_FEATURES);
    check((offered & F_MULTIPORT) != 0, "VIRTIO_CONSOLE_F_MULTIPORT offered", offered, F_MULTIPORT);
    wr(REG_DRIVER_FEATURES_SEL, 0);
    wr(REG_DRIVER_FEATURES, F_MULTIPORT);
    wr(REG_DRIVER_FEATURES_SEL, 1);
    wr(REG_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
    wr(REG_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    check((rd(REG_STATUS) & ST_FEATURES_OK) != 0, "FEATURES_OK accepted", rd(REG_STATUS),
                ST_FEATURES_OK);
    max_ports = rd(REG_CONFIG + 4);
    check(max_ports <= MAX_PORTS, "max_nr_ports within the driver's ports", max_ports, MAX_PORTS);
    if (max_ports > MAX_PORTS) return RESET;
    memset(queues, 0, sizeof queues);
    memset(ports, 0, sizeof ports);
    for (int q = 0; q < (int)(2 * (max_ports + 1)); ++q) {
        wr(REG_QUEUE_SEL, (uint32_t)q);
        check(rd(REG_QUEUE_NUM_MAX) >= QN, "queue size max", rd(REG_QUEUE_NUM_MAX), QN);
        wr(REG_QUEUE_NUM, QN);
        wr64(REG_QUEUE_DESC, (uint64_t)(uintptr_t)queues[q].table);
        wr64(REG_QUEUE_DRIVER, (uint64_t)(uintptr_t)&queues[q].avail);
        wr64(REG_QUEUE_DEVICE, (uint64_t)(uintptr_t)&queues[q].used);
        wr(REG_QUEUE_READY, 1);
    }
    wr(REG_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    for (uint16_t d = 0; d < QN; ++d) post(2, d, ctl_buffers[d], CTL_SIZE, 1);
    notify(2);
    return send_control(0xffffffffu, EV_DEVICE_READY, 1, 8);
}

/* Waits until every port of the device (and the console, with hvc=1) was added, named and opened
 * by the host, and opens each port. Returns 0, or RESET. */
static int handshake(void) {
    uint32_t named_ports = max_ports ? max_ports - 1 : 0;
    int hvc = (int)arg_u64("hvc", 0);
    for (uint64_t spins = 0;; ++spins) {
        poll_control();
        int done = !hvc || (ports[0].console && ports[0].host_open);
        for (uint32_t id = 1; id <= named_ports; ++id) done &= ports[id].name_length && ports[id].host_open;
        if (done) break;
        if (spins % 4096 == 0 && needs_reset()) return RESET;
        if (failures || spins > (1ull << 34)) return check(0, "the ports in time", 0, 1), RESET;
    }
    for (uint32_t id = hvc ? 0 : 1; id <= named_ports; ++id) send_control(id, EV_PORT_OPEN, 1, 8);
    print("guest: console ports ready\n");
    return 0;
}

int console_write(uint32_t id, const void* bytes, uint32_t len) {
    int q = rx_queue(id) + 1;
    post(q, 0, bytes, len, 0);
    notify(q);
    uint32_t ignored;
    return wait_used(q, &ignored) == RESET ? RESET : 0;
}

int console_read(uint32_t id, uint8_t* bytes) {
    int q = rx_queue(id);
    for (uint64_t spins = 0;; ++spins) {
        uint32_t len;
        int d = take_used(q, &len);
        if (d >= 0) {
            if (len > RX_SIZE) len = RX_SIZE;
            memcpy(bytes, rx_buffers[id][d], len);
            post(q, (uint16_t)d, rx_buffers[id][d], RX_SIZE, 1);
            notify(q);
            return (int)len;
        }
        /* The device closes the port after the last byte before the close was used. */
        if (!ports[id].host_open) return 0;
        poll_control();
        if (spins % 4096 == 0 && needs_reset()) return RESET;
    }
}

int console_start(uint64_t device) {
    base = device;
    return start_device() == RESET || handshake() == RESET ? RESET : 0;
}

/* op=echo and op=close: reads port "hutch.stdin"; with `echo`, writes each buffer back on
 * "hutch.control". Ends after `n` bytes, or (close) when the host closed the port. Returns the
 * bytes read; their FNV-1a sum in *sum. */
static uint64_t read_stdin(uint64_t n, int echo, uint32_t* sum) {
    static uint8_t bytes[RX_SIZE];
    uint32_t in = console_port("hutch.stdin"), out = console_port("hutch.control");
    uint64_t got = 0;
    *sum = 2166136261u;
    while (!echo || got < n) {
        int len = console_read(in, bytes);
        if (len <= 0) break;
        for (int i = 0; i < len; ++i) *sum = (*sum ^ bytes[i]) * 16777619u;
        got += (uint64_t)len;
        if (echo && console_write(out, bytes, (uint32_t)len) == RESET) break;
    }
    return got;
}

/* test=console's ports: as many as max_ports= says, named as ports= says. */
static void check_ports(void) {
    check(max_ports == arg_u64("max_ports", 0), "max_nr_ports", max_ports, arg_u64("max_ports", 0));
    for (uint32_t id = 1; id < max_ports; ++id) check(named(id, id - 1), "port name as on ports=", id, 0);
}

static void hostile(void) {
    int stopped = RESET;
    if (arg_is("kind", "bad_control")) stopped = send_control(99, EV_PORT_READY, 1, 8);
    if (arg_is("kind", "short_control")) stopped = send_control(1, EV_PORT_OPEN, 1, 4);
    if (arg_is("kind", "outside_ram")) {
        post(rx_queue(1) + 1, 0, (const void*)(uintptr_t)0xfff00000000ull, 64, 0);
        notify(rx_queue(1) + 1);
        uint32_t ignored;
        stopped = wait_used(rx_queue(1) + 1, &ignored);
    }
    check(stopped == RESET && needs_reset(), "DEVICE_NEEDS_RESET after a hostile message", 0, 1);
    print("guest: console device needs reset\n");
    /* A reset brings it back, ports and all. */
    if (start_device() == RESET || handshake() == RESET)
        return check(0, "the device after a reset", 0, 1);
    check_ports();
    print("guest: console works again after a reset\n");
}

void test_console(void) {
    uint64_t device = virtio_device_address();
    if (!device) return check(0, "a virtio_mmio.device= on the command line", 0, 1);
    if (console_start(device) == RESET) return check(0, "the console's start", 0, 1);
    check_ports();
    if (arg_u64("hvc", 0)) {
        static const char hello[] = "guest: hello on hvc0\n";
        check(console_write(0, hello, sizeof hello - 1) != RESET, "a write on hvc0", 0, 1);
    }
    uint32_t sum;
    if (arg_is("op", "echo")) {
        uint64_t n = arg_u64("n", 0), got = read_stdin(n, 1, &sum);
        print("guest: echoed ");
        print_u64(got);
        print(" bytes, checksum ");
        print_u64(sum);
        print("\n");
        check(got == n, "bytes echoed", got, n);
        check(sum == arg_u64("sum", 0), "checksum of the bytes read", sum,
                    arg_u64("sum", 0));
    } else if (arg_is("op", "close")) {
        uint64_t got = read_stdin(0, 0, &sum);
        print("guest: stdin closed by the host after ");
        print_u64(got);
        print(" bytes\n");
        check(got == arg_u64("n", 0), "bytes before the close", got, arg_u64("n", 0));
    } else if (arg_is("op", "hostile")) {
        hostile();
    }
}
