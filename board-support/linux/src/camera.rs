//! The kit's camera over V4L2 (a UVC webcam on USB: `/dev/video0`, or the name udev gives).
//!
//! Why our own ioctl layer: the `v4l` crate builds its kernel bindings with bindgen (libclang
//! at build time, not on the Yocto build host's default path) or links libv4l; capturing one
//! still picture needs seven ioctls, declared here with the structures' layouts checked at
//! compile time against `linux/videodev2.h`. The calls go through `rustix::ioctl`, and this
//! module is the one place of the crate allowed `unsafe`: each block says what keeps it sound.
//!
//! A capture: `VIDIOC_QUERYCAP` (a video capture device), `VIDIOC_S_FMT` (YUYV at the size
//! asked, else MJPEG; the driver may answer another size, which is kept), then frames by
//! `read()` when the driver offers it, else by streaming into buffers of our own
//! (`V4L2_MEMORY_USERPTR`, which uvcvideo supports; no `mmap`): a few frames are dropped so
//! exposure settles, the next one is kept. The device is opened per photo and closed after,
//! so a camera unplugged between photos is only an error for the next one.
//!
//! Not tested here: there is no camera and no `vivid` module on the build machine, so only
//! the opening and the ioctls are untested; the frames' conversion (`fieldkit_drivers::camera`)
//! is tested on synthetic frames of the real layouts.
#![allow(unsafe_code)]

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use fieldkit_drivers::camera::PixelFormat;
use rustix::fs::{Mode, OFlags};
use rustix::ioctl::{Setter, Updater, ioctl, opcode};

pub use fieldkit_drivers::camera::Frame;

/// Frames dropped before the one kept, so auto-exposure and white balance settle.
const SETTLE_FRAMES: usize = 5;
/// Streaming buffers queued.
const BUFFERS: usize = 2;

/// The camera could not give a picture.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CameraError {
    /// The device could not be opened.
    #[error("the camera {path} could not be opened: {source}")]
    Open {
        /// The device.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The device is not a camera (or cannot capture).
    #[error("{path} is not a camera that captures pictures")]
    NotACamera {
        /// The device.
        path: PathBuf,
    },
    /// The camera offers neither YUYV nor MJPEG.
    #[error("the camera {path} offers neither YUYV nor MJPEG pictures")]
    NoFormat {
        /// The device.
        path: PathBuf,
    },
    /// An ioctl or read failed.
    #[error("the camera {path} failed at {step}: {source}")]
    Device {
        /// The device.
        path: PathBuf,
        /// Which step.
        step: &'static str,
        /// What the kernel said.
        source: std::io::Error,
    },
}

// `struct v4l2_capability` (videodev2.h): 104 bytes.
#[repr(C)]
struct Capability {
    driver: [u8; 16],
    card: [u8; 32],
    bus_info: [u8; 32],
    version: u32,
    capabilities: u32,
    device_caps: u32,
    reserved: [u32; 3],
}

// `struct v4l2_pix_format`: 48 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
struct PixFormat {
    width: u32,
    height: u32,
    pixelformat: u32,
    field: u32,
    bytesperline: u32,
    sizeimage: u32,
    colorspace: u32,
    private: u32,
    flags: u32,
    ycbcr_enc: u32,
    quantization: u32,
    xfer_func: u32,
}

// The union in `struct v4l2_format`: 200 bytes, aligned as a pointer (its `v4l2_window`
// member holds pointers), so the structure is 208 bytes on 64-bit and 204 on 32-bit.
#[repr(C)]
union FormatUnion {
    pix: PixFormat,
    raw: [u8; 200],
    _align: *mut u8,
}

#[repr(C)]
struct Format {
    type_: u32,
    fmt: FormatUnion,
}

// `struct v4l2_requestbuffers`: 20 bytes.
#[repr(C)]
struct RequestBuffers {
    count: u32,
    type_: u32,
    memory: u32,
    capabilities: u32,
    flags: u8,
    reserved: [u8; 3],
}

// `struct v4l2_timecode`: 16 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
struct Timecode {
    type_: u32,
    flags: u32,
    frames: u8,
    seconds: u8,
    minutes: u8,
    hours: u8,
    userbits: [u8; 4],
}

// `struct v4l2_buffer` with `struct timeval` as the 64-bit ABI has it: 88 bytes. (32-bit
// kernels with a 64-bit time_t use another layout and ioctl number: this module is built for
// 64-bit targets only, the kits' Raspberry Pi 4/5 running aarch64.)
#[repr(C)]
struct Buffer {
    index: u32,
    type_: u32,
    bytesused: u32,
    flags: u32,
    field: u32,
    timestamp: [i64; 2],
    timecode: Timecode,
    sequence: u32,
    memory: u32,
    m: usize,
    length: u32,
    reserved2: u32,
    request_fd: u32,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<Capability>() == 104);
    assert!(size_of::<PixFormat>() == 48);
    assert!(size_of::<Format>() == 208);
    assert!(size_of::<RequestBuffers>() == 20);
    assert!(size_of::<Buffer>() == 88);
};

const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
const MEMORY_USERPTR: u32 = 2;
const FIELD_NONE: u32 = 1;
const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
const CAP_READWRITE: u32 = 0x0100_0000;
const CAP_STREAMING: u32 = 0x0400_0000;
const CAP_DEVICE_CAPS: u32 = 0x8000_0000;

const VIDIOC_QUERYCAP: rustix::ioctl::Opcode = opcode::read::<Capability>(b'V', 0);
const VIDIOC_S_FMT: rustix::ioctl::Opcode = opcode::read_write::<Format>(b'V', 5);
const VIDIOC_REQBUFS: rustix::ioctl::Opcode = opcode::read_write::<RequestBuffers>(b'V', 8);
const VIDIOC_QBUF: rustix::ioctl::Opcode = opcode::read_write::<Buffer>(b'V', 15);
const VIDIOC_DQBUF: rustix::ioctl::Opcode = opcode::read_write::<Buffer>(b'V', 17);
const VIDIOC_STREAMON: rustix::ioctl::Opcode = opcode::write::<i32>(b'V', 18);
const VIDIOC_STREAMOFF: rustix::ioctl::Opcode = opcode::write::<i32>(b'V', 19);

/// A V4L2 camera at a device path, opened for each picture.
#[derive(Debug, Clone)]
pub struct V4l2Camera {
    path: PathBuf,
    width: u32,
    height: u32,
}

impl V4l2Camera {
    /// A camera at `path` asked for pictures of `width × height` (the driver may choose the
    /// nearest size it has).
    pub fn new(path: &Path, width: u32, height: u32) -> V4l2Camera {
        V4l2Camera {
            path: path.to_path_buf(),
            width,
            height,
        }
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, step: &'static str) -> impl FnOnce(rustix::io::Errno) -> CameraError + '_ {
        move |e| CameraError::Device {
            path: self.path.clone(),
            step,
            source: e.into(),
        }
    }

    /// Takes one picture.
    pub fn capture(&self) -> Result<Frame, CameraError> {
        let fd = rustix::fs::open(&self.path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| CameraError::Open {
                path: self.path.clone(),
                source: e.into(),
            })?;
        let mut cap = Capability {
            driver: [0; 16],
            card: [0; 32],
            bus_info: [0; 32],
            version: 0,
            capabilities: 0,
            device_caps: 0,
            reserved: [0; 3],
        };
        // SAFETY: VIDIOC_QUERYCAP writes one `struct v4l2_capability`, whose layout `Capability`
        // has (size checked at compile time); the pointer lives for the call.
        unsafe { ioctl(&fd, Updater::<VIDIOC_QUERYCAP, Capability>::new(&mut cap)) }
            .map_err(self.err("VIDIOC_QUERYCAP"))?;
        let caps = if cap.capabilities & CAP_DEVICE_CAPS != 0 {
            cap.device_caps
        } else {
            cap.capabilities
        };
        if caps & CAP_VIDEO_CAPTURE == 0 || caps & (CAP_READWRITE | CAP_STREAMING) == 0 {
            return Err(CameraError::NotACamera {
                path: self.path.clone(),
            });
        }
        let pix = self.set_format(&fd)?;
        let format =
            PixelFormat::from_fourcc(pix.pixelformat).ok_or_else(|| CameraError::NoFormat {
                path: self.path.clone(),
            })?;
        let size = (pix.sizeimage as usize).max(
            format
                .min_stride(pix.width)
                .unwrap_or(0)
                .saturating_mul(pix.height as usize),
        );
        let bytes = if caps & CAP_READWRITE != 0 {
            self.read_frames(&fd, size)?
        } else {
            self.stream_frames(&fd, size)?
        };
        Ok(Frame {
            format,
            width: pix.width,
            height: pix.height,
            stride: pix.bytesperline as usize,
            bytes,
        })
    }

    /// Asks for YUYV, then MJPEG, at the size wanted; returns what the driver set.
    fn set_format(&self, fd: &OwnedFd) -> Result<PixFormat, CameraError> {
        for want in [PixelFormat::Yuyv, PixelFormat::Mjpeg] {
            let mut f = Format {
                type_: BUF_TYPE_VIDEO_CAPTURE,
                fmt: FormatUnion { raw: [0; 200] },
            };
            f.fmt.pix = PixFormat {
                width: self.width,
                height: self.height,
                pixelformat: want.fourcc(),
                field: FIELD_NONE,
                bytesperline: 0,
                sizeimage: 0,
                colorspace: 0,
                private: 0,
                flags: 0,
                ycbcr_enc: 0,
                quantization: 0,
                xfer_func: 0,
            };
            // SAFETY: VIDIOC_S_FMT reads and writes one `struct v4l2_format` (layout checked at
            // compile time); the pointer lives for the call.
            unsafe { ioctl(fd, Updater::<VIDIOC_S_FMT, Format>::new(&mut f)) }
                .map_err(self.err("VIDIOC_S_FMT"))?;
            // SAFETY: for a capture buffer type the driver fills the `pix` member.
            let pix = unsafe { f.fmt.pix };
            if pix.pixelformat == want.fourcc() {
                return Ok(pix);
            }
        }
        Err(CameraError::NoFormat {
            path: self.path.clone(),
        })
    }

    /// Frames by `read()`: each read returns one frame.
    fn read_frames(&self, fd: &OwnedFd, size: usize) -> Result<Vec<u8>, CameraError> {
        let mut buf = vec![0u8; size];
        let mut n = 0;
        for _ in 0..=SETTLE_FRAMES {
            n = rustix::io::read(fd, &mut buf[..]).map_err(self.err("read"))?;
        }
        buf.truncate(n);
        Ok(buf)
    }

    /// Frames by streaming into our own buffers (`V4L2_MEMORY_USERPTR`).
    fn stream_frames(&self, fd: &OwnedFd, size: usize) -> Result<Vec<u8>, CameraError> {
        let mut buffers: Vec<Vec<u8>> = (0..BUFFERS).map(|_| vec![0u8; size]).collect();
        let mut req = RequestBuffers {
            count: BUFFERS as u32,
            type_: BUF_TYPE_VIDEO_CAPTURE,
            memory: MEMORY_USERPTR,
            capabilities: 0,
            flags: 0,
            reserved: [0; 3],
        };
        // SAFETY: one `struct v4l2_requestbuffers` (layout checked), live for the call.
        unsafe { ioctl(fd, Updater::<VIDIOC_REQBUFS, RequestBuffers>::new(&mut req)) }
            .map_err(self.err("VIDIOC_REQBUFS"))?;
        let result = self.stream_into(fd, &mut buffers);
        // Stop streaming and release the queue before the buffers are freed, even after an
        // error: the driver must hold no pointer into them once this returns.
        let off = BUF_TYPE_VIDEO_CAPTURE as i32;
        // SAFETY: VIDIOC_STREAMOFF reads one int.
        let stopped = unsafe { ioctl(fd, Setter::<VIDIOC_STREAMOFF, i32>::new(off)) };
        let mut release = RequestBuffers { count: 0, ..req };
        // SAFETY: as for VIDIOC_REQBUFS above; a count of 0 frees the queue.
        let released = unsafe {
            ioctl(
                fd,
                Updater::<VIDIOC_REQBUFS, RequestBuffers>::new(&mut release),
            )
        };
        if stopped.is_err() || released.is_err() {
            // The queue could not be released: keep the buffers alive for as long as the
            // process runs, rather than free memory the driver may still write into.
            std::mem::forget(buffers);
        }
        result
    }

    fn stream_into(&self, fd: &OwnedFd, buffers: &mut [Vec<u8>]) -> Result<Vec<u8>, CameraError> {
        let queue = |index: usize, buf: &mut Vec<u8>| {
            let mut b = empty_buffer(index as u32);
            b.m = buf.as_mut_ptr() as usize;
            b.length = buf.len() as u32;
            // SAFETY: queues one of our buffers by address and length; it stays allocated, not
            // moved, until the stream is stopped and the queue released (`stream_frames`).
            unsafe { ioctl(fd, Updater::<VIDIOC_QBUF, Buffer>::new(&mut b)) }
                .map_err(self.err("VIDIOC_QBUF"))
        };
        for (i, buf) in buffers.iter_mut().enumerate() {
            queue(i, buf)?;
        }
        let on = BUF_TYPE_VIDEO_CAPTURE as i32;
        // SAFETY: VIDIOC_STREAMON reads one int.
        unsafe { ioctl(fd, Setter::<VIDIOC_STREAMON, i32>::new(on)) }
            .map_err(self.err("VIDIOC_STREAMON"))?;
        for n in 0..=SETTLE_FRAMES {
            let mut b = empty_buffer(0);
            // SAFETY: VIDIOC_DQBUF fills one `struct v4l2_buffer` (layout checked); blocking
            // until a frame is ready (the fd is not non-blocking).
            unsafe { ioctl(fd, Updater::<VIDIOC_DQBUF, Buffer>::new(&mut b)) }
                .map_err(self.err("VIDIOC_DQBUF"))?;
            let index = b.index as usize;
            let Some(buf) = buffers.get_mut(index) else {
                return Err(CameraError::Device {
                    path: self.path.clone(),
                    step: "VIDIOC_DQBUF",
                    source: std::io::Error::other("the driver returned an unknown buffer"),
                });
            };
            if n == SETTLE_FRAMES {
                let used = (b.bytesused as usize).min(buf.len());
                return Ok(buf[..used].to_vec());
            }
            queue(index, buf)?;
        }
        unreachable!("the loop returns at its last frame")
    }
}

fn empty_buffer(index: u32) -> Buffer {
    Buffer {
        index,
        type_: BUF_TYPE_VIDEO_CAPTURE,
        bytesused: 0,
        flags: 0,
        field: 0,
        timestamp: [0; 2],
        timecode: Timecode {
            type_: 0,
            flags: 0,
            frames: 0,
            seconds: 0,
            minutes: 0,
            hours: 0,
            userbits: [0; 4],
        },
        sequence: 0,
        memory: MEMORY_USERPTR,
        m: 0,
        length: 0,
        reserved2: 0,
        request_fd: 0,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The ioctl numbers as `linux/videodev2.h` gives them on 64-bit Linux.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn ioctl_numbers_are_the_kernels() {
        assert_eq!(VIDIOC_QUERYCAP, 0x8068_5600);
        assert_eq!(VIDIOC_S_FMT, 0xC0D0_5605);
        assert_eq!(VIDIOC_REQBUFS, 0xC014_5608);
        assert_eq!(VIDIOC_QBUF, 0xC058_560F);
        assert_eq!(VIDIOC_DQBUF, 0xC058_5611);
        assert_eq!(VIDIOC_STREAMON, 0x4004_5612);
        assert_eq!(VIDIOC_STREAMOFF, 0x4004_5613);
    }

    #[test]
    fn a_missing_device_and_a_file_that_is_no_camera_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = V4l2Camera::new(&dir.path().join("video9"), 640, 480);
        let e = missing.capture().unwrap_err();
        assert!(matches!(e, CameraError::Open { .. }), "{e}");
        assert!(e.to_string().contains("video9"));
        let file = dir.path().join("not-a-camera");
        std::fs::write(&file, b"plain file").unwrap();
        let e = V4l2Camera::new(&file, 640, 480).capture().unwrap_err();
        // A plain file answers VIDIOC_QUERYCAP with ENOTTY.
        assert!(
            matches!(
                e,
                CameraError::Device {
                    step: "VIDIOC_QUERYCAP",
                    ..
                }
            ),
            "{e}"
        );
    }
}
