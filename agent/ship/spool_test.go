package ship

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func recs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"rule":"r%d"}`, from+i))
	}
	return out
}

func TestSpoolFIFOAcrossSegmentsAndRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(SpoolConfig{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(recs(0, 50)); err != nil {
		t.Fatal(err)
	}
	b, err := s.Read(20)
	if err != nil || len(b.Records) != 20 || string(b.Records[0]) != `{"rule":"r0"}` {
		t.Fatalf("read: %v %d", err, len(b.Records))
	}
	if err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	// Read but do not commit: after a restart these must come back.
	if b, _ = s.Read(5); string(b.Records[0]) != `{"rule":"r20"}` {
		t.Fatalf("second read starts at %s", b.Records[0])
	}
	s.Close()

	s, err = OpenSpool(SpoolConfig{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 30 {
		t.Fatalf("len after restart = %d, want 30", s.Len())
	}
	var got []string
	for {
		b, err := s.Read(7)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Records) == 0 {
			break
		}
		for _, r := range b.Records {
			got = append(got, string(r))
		}
		s.Commit(b)
	}
	if len(got) != 30 || got[0] != `{"rule":"r20"}` || got[29] != `{"rule":"r49"}` {
		t.Fatalf("got %d records: first %v", len(got), got[:1])
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Errorf("fully read segments not removed: %v", segs)
	}
}

func TestSpoolTornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(SpoolConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s.Append(recs(0, 3))
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, _ := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{40, 0, 0, 0, 1, 2}) // half a header of a fourth record
	f.Close()
	s, err = OpenSpool(SpoolConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 {
		t.Fatalf("len = %d", s.Len())
	}
	s.Append(recs(3, 1))
	b, _ := s.Read(10)
	if len(b.Records) != 4 || string(b.Records[3]) != `{"rule":"r3"}` {
		t.Fatalf("records after torn tail: %d", len(b.Records))
	}
}

func TestSpoolBoundDropsOldestCounted(t *testing.T) {
	s, err := OpenSpool(SpoolConfig{Dir: t.TempDir(), MaxBytes: 4096, SegmentBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i := 0; i < 40; i++ {
		s.Append(recs(i*10, 10))
		total += 10
	}
	if s.Bytes() > 4096 {
		t.Fatalf("spool %d bytes over its bound", s.Bytes())
	}
	if int64(s.Dropped())+s.Len() != int64(total) {
		t.Fatalf("dropped %d + queued %d != appended %d", s.Dropped(), s.Len(), total)
	}
	b, _ := s.Read(1 << 20)
	if string(b.Records[len(b.Records)-1]) != `{"rule":"r399"}` {
		t.Fatalf("newest record lost: %s", b.Records[len(b.Records)-1])
	}
}

func TestSpoolRejectsHugeRecord(t *testing.T) {
	s, _ := OpenSpool(SpoolConfig{Dir: t.TempDir(), MaxBytes: 16384, SegmentBytes: 8192})
	if err := s.Append([][]byte{make([]byte, 9000)}); err != ErrRecordTooLarge {
		t.Fatalf("err = %v", err)
	}
}
