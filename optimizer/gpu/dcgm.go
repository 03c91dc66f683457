//go:build cgo && linux

package gpu

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/NVIDIA/go-dcgm/pkg/dcgm"
)

// DCGMOptions configure the DCGM sampler.
type DCGMOptions struct {
	// Hostengines maps an invoker node name ("invoker0", as OpenWhisk's
	// user events name it) to its nv-hostengine address ("host:5555",
	// "unix:///run/nvidia/hostengine.socket" or a DCGM connection string
	// such as "tcp://host:5555"). When the map is empty every node is
	// sampled through an embedded hostengine in this process; when it is
	// not, a node it does not name is unavailable (ResolveHostengine).
	Hostengines map[string]string
	// Interval between samples (default 100 ms).
	Interval time.Duration
	Logger   *slog.Logger
}

// DCGM samples through go-dcgm. go-dcgm keeps one connection per
// process, so sessions run one at a time (Start waits for the previous
// Stop) and switching nodes reconnects.
type DCGM struct {
	o    DCGMOptions
	log  *slog.Logger
	lock chan struct{} // held by a running session

	mu      sync.Mutex
	addr    string // the connection made: "" embedded
	cleanup func()
}

// NewDCGM returns the sampler; it connects on first use.
func NewDCGM(o DCGMOptions) *DCGM {
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &DCGM{o: o, log: o.Logger.With("component", "gpu"), lock: make(chan struct{}, 1)}
}

// connect makes sure the process is connected for node.
func (d *DCGM) connect(node string) (err error) {
	addr, standalone, err := ResolveHostengine(d.o.Hostengines, node)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cleanup != nil && d.addr == addr {
		return nil
	}
	if d.cleanup != nil {
		d.cleanup()
		d.cleanup = nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = &UnavailableError{Reason: fmt.Sprintf("DCGM failed to start: %v", r)}
		}
	}()
	var cleanup func()
	if standalone {
		cleanup, err = dcgm.Init(dcgm.Standalone, addr, "0")
	} else {
		cleanup, err = dcgm.Init(dcgm.Embedded)
	}
	if err != nil {
		where := "embedded"
		if standalone {
			where = "nv-hostengine at " + addr
		}
		return &UnavailableError{Reason: fmt.Sprintf("DCGM (%s): %v", where, err)}
	}
	d.addr, d.cleanup = addr, cleanup
	return nil
}

// Close disconnects from DCGM.
func (d *DCGM) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cleanup != nil {
		d.cleanup()
		d.cleanup = nil
	}
}

// Devices lists the GPUs DCGM supports on node.
func (d *DCGM) Devices(node string) ([]uint, error) {
	if err := d.connect(node); err != nil {
		return nil, err
	}
	ids, err := dcgm.GetSupportedDevices()
	if err != nil {
		return nil, &UnavailableError{Reason: fmt.Sprintf("DCGM lists no GPUs: %v", err)}
	}
	if len(ids) == 0 {
		return nil, &UnavailableError{Reason: "DCGM finds no supported GPU"}
	}
	return ids, nil
}

var sampledFields = []dcgm.Short{dcgm.DCGM_FI_DEV_FB_USED, dcgm.DCGM_FI_DEV_GPU_UTIL}

// Start implements Sampler.
func (d *DCGM) Start(ctx context.Context, t Target) (Session, error) {
	select {
	case d.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s, err := d.start(t)
	if err != nil {
		<-d.lock
		return nil, err
	}
	return s, nil
}

func (d *DCGM) start(t Target) (s *dcgmSession, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &UnavailableError{Reason: fmt.Sprintf("DCGM failed: %v", r)}
		}
	}()
	gpus := t.GPUs
	if len(gpus) == 0 {
		if gpus, err = d.Devices(t.Node); err != nil {
			return nil, err
		}
	} else if err := d.connect(t.Node); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("fnmgr-%d", time.Now().UnixNano())
	group, err := dcgm.CreateGroup(name)
	if err != nil {
		return nil, &UnavailableError{Reason: fmt.Sprintf("DCGM group: %v", err)}
	}
	for _, id := range gpus {
		if err := dcgm.AddToGroup(group, id); err != nil {
			_ = dcgm.DestroyGroup(group)
			return nil, &UnavailableError{Reason: fmt.Sprintf("DCGM GPU %d: %v", id, err)}
		}
	}
	fields, err := dcgm.FieldGroupCreate(name+"-f", sampledFields)
	if err != nil {
		_ = dcgm.DestroyGroup(group)
		return nil, &UnavailableError{Reason: fmt.Sprintf("DCGM fields: %v", err)}
	}
	if err := dcgm.WatchFieldsWithGroupEx(fields, group, d.o.Interval.Microseconds(), 0, 1); err != nil {
		_ = dcgm.FieldGroupDestroy(fields)
		_ = dcgm.DestroyGroup(group)
		return nil, &UnavailableError{Reason: fmt.Sprintf("DCGM watch: %v", err)}
	}
	s = &dcgmSession{d: d, gpus: gpus, group: group, fields: fields, stop: make(chan struct{}), done: make(chan struct{})}
	base := map[uint]float64{}
	for _, id := range gpus {
		if mem, _, ok := readGPU(id); ok {
			base[id] = mem
		}
	}
	s.acc = NewAccumulator(base)
	go s.loop(d.o.Interval)
	return s, nil
}

type dcgmSession struct {
	d      *DCGM
	gpus   []uint
	group  dcgm.GroupHandle
	fields dcgm.FieldHandle
	stop   chan struct{}
	done   chan struct{}

	mu   sync.Mutex
	acc  *Accumulator
	errs int
}

// readGPU reads one GPU's memory used (MB) and utilisation (%); ok is
// false when DCGM has no value yet.
func readGPU(id uint) (mem, util float64, ok bool) {
	vals, err := dcgm.GetLatestValuesForFields(id, sampledFields)
	if err != nil || len(vals) < 2 {
		return 0, 0, false
	}
	const blank = 0x7ffffff0
	m, u := vals[0].Int64(), vals[1].Int64()
	if vals[0].Status != 0 || vals[1].Status != 0 || m >= blank || u >= blank || m < 0 || u < 0 {
		return 0, 0, false
	}
	return float64(m), float64(u), true
}

func (s *dcgmSession) loop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for _, id := range s.gpus {
			mem, util, ok := readGPU(id)
			s.mu.Lock()
			if ok {
				s.acc.Add(id, mem, util)
			} else {
				s.errs++
			}
			s.mu.Unlock()
		}
	}
}

// Stop implements Session.
func (s *dcgmSession) Stop() (Usage, error) {
	close(s.stop)
	<-s.done
	defer func() { <-s.d.lock }()
	_ = dcgm.UnwatchFields(s.fields, s.group)
	_ = dcgm.FieldGroupDestroy(s.fields)
	_ = dcgm.DestroyGroup(s.group)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.acc.Usage()
	// DCGM_FI_DEV_* are device fields: every process on the GPU. go-dcgm's
	// per-process accounting (WatchPidFields, GetProcessInfo) needs the
	// action's PID on the invoker node, which OpenWhisk does not report.
	u.Scope = ScopeWholeGPU
	if u.Samples == 0 {
		return u, &UnavailableError{Reason: fmt.Sprintf("DCGM returned no samples (%d failed reads)", s.errs)}
	}
	return u, nil
}
