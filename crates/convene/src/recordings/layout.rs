//! The picture and sound of a processed recording as ffmpeg arguments: a pure function
//! of the tracks, so the layout is tested without running ffmpeg. A screen share takes
//! the stage (960 × 720) with the cameras in a column beside it; without one the
//! cameras share a grid. Each track starts where it began on the recording's timeline
//! (video shifted by its offset, audio delayed by it); gaps are black or silent.

use std::path::{Path, PathBuf};

pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 720;
const FPS: u32 = 15;
const BACKGROUND: &str = "0x111827";

/// One track's file and where it begins, in seconds from the recording's start.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub audio: bool,
    pub screen: bool,
    pub offset: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

fn even(v: u32) -> u32 {
    v & !1
}

/// Where each video goes (in the order given): screens first on the stage.
pub fn rects(screens: &[bool]) -> Vec<Rect> {
    let n = screens.len();
    if n == 0 {
        return Vec::new();
    }
    if let Some(stage) = screens.iter().position(|s| *s) {
        let others = n - 1;
        let side = if others == 0 { 0 } else { 320 };
        let tile_h = if others == 0 {
            0
        } else {
            even(HEIGHT / others.max(4) as u32)
        };
        let mut row = 0;
        return (0..n)
            .map(|i| {
                if i == stage {
                    Rect {
                        x: 0,
                        y: 0,
                        w: WIDTH - side,
                        h: HEIGHT,
                    }
                } else {
                    let r = Rect {
                        x: WIDTH - side,
                        y: row * tile_h,
                        w: side,
                        h: tile_h,
                    };
                    row += 1;
                    r
                }
            })
            .collect();
    }
    let cols = (n as f64).sqrt().ceil() as u32;
    let rows = (n as u32).div_ceil(cols);
    let (w, h) = (even(WIDTH / cols), even(HEIGHT / rows));
    (0..n as u32)
        .map(|i| Rect {
            x: (i % cols) * w,
            y: (i / cols) * h,
            w,
            h,
        })
        .collect()
}

/// The whole ffmpeg command line after `ffmpeg`: inputs, the filter graph, a WebM
/// (VP8 and Opus) of `duration` seconds at `out`.
pub fn ffmpeg_args(inputs: &[Input], duration: f64, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["-v", "error", "-y", "-nostdin"].map(String::from).to_vec();
    for input in inputs {
        args.push("-i".into());
        args.push(input.path.display().to_string());
    }
    let d = format!("{duration:.3}");
    let mut graph = vec![format!(
        "color=c={BACKGROUND}:s={WIDTH}x{HEIGHT}:r={FPS}:d={d}[base0]"
    )];
    let videos: Vec<(usize, &Input)> = inputs
        .iter()
        .enumerate()
        .filter(|(_, i)| !i.audio)
        .collect();
    let screens: Vec<bool> = videos.iter().map(|(_, i)| i.screen).collect();
    for (k, ((index, input), r)) in videos.iter().zip(rects(&screens)).enumerate() {
        graph.push(format!(
            "[{index}:v]setpts=PTS-STARTPTS+{off:.3}/TB,scale={w}:{h}:force_original_aspect_ratio=decrease,\
             pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color={BACKGROUND},fps={FPS}[v{k}]",
            off = input.offset,
            w = r.w,
            h = r.h,
        ));
        graph.push(format!(
            "[base{k}][v{k}]overlay={x}:{y}:eof_action=pass[base{next}]",
            x = r.x,
            y = r.y,
            next = k + 1
        ));
    }
    graph.push(format!("[base{}]format=yuv420p[vout]", videos.len()));
    let audios: Vec<(usize, &Input)> = inputs.iter().enumerate().filter(|(_, i)| i.audio).collect();
    for (j, (index, input)) in audios.iter().enumerate() {
        let ms = (input.offset * 1000.0).round() as u64;
        graph.push(format!(
            "[{index}:a]aresample=48000:async=1:first_pts=0,adelay={ms}|{ms}[a{j}]"
        ));
    }
    match audios.len() {
        0 => graph.push(format!(
            "anullsrc=r=48000:cl=stereo:nb_samples=960,atrim=duration={d}[amix]"
        )),
        1 => graph.push("[a0]anull[amix]".into()),
        n => graph.push(format!(
            "{}amix=inputs={n}:duration=longest:normalize=0[amix]",
            (0..n).map(|j| format!("[a{j}]")).collect::<String>()
        )),
    }
    // Opus takes frames of 20 ms.
    graph.push(
        "[amix]aformat=sample_rates=48000:channel_layouts=stereo,asetnsamples=n=960:p=0[aout]"
            .into(),
    );
    args.push("-filter_complex".into());
    args.push(graph.join(";"));
    for a in [
        "-map",
        "[vout]",
        "-map",
        "[aout]",
        "-t",
        &d,
        "-c:v",
        "libvpx",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "1500k",
        "-threads",
        "2",
        "-c:a",
        "libopus",
        "-b:a",
        "96k",
        "-f",
        "webm",
    ] {
        args.push(a.to_string());
    }
    args.push(out.display().to_string());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_for_cameras_and_the_stage_for_a_screen() {
        assert_eq!(
            rects(&[false]),
            [Rect {
                x: 0,
                y: 0,
                w: 1280,
                h: 720
            }]
        );
        let four = rects(&[false; 4]);
        assert_eq!(
            four[3],
            Rect {
                x: 640,
                y: 360,
                w: 640,
                h: 360
            }
        );
        let shared = rects(&[false, true, false]);
        assert_eq!(
            shared[1],
            Rect {
                x: 0,
                y: 0,
                w: 960,
                h: 720
            },
            "the screen on the stage"
        );
        assert_eq!(
            shared[0],
            Rect {
                x: 960,
                y: 0,
                w: 320,
                h: 180
            }
        );
        assert_eq!(
            shared[2],
            Rect {
                x: 960,
                y: 180,
                w: 320,
                h: 180
            }
        );
        for r in rects(&[false; 7]) {
            assert!(r.x + r.w <= WIDTH && r.y + r.h <= HEIGHT);
        }
    }

    #[test]
    fn tracks_start_at_their_offsets_and_nothing_is_still_valid() {
        let inputs = [
            Input {
                path: "a.ivf".into(),
                audio: false,
                screen: false,
                offset: 2.5,
            },
            Input {
                path: "b.ogg".into(),
                audio: true,
                screen: false,
                offset: 1.25,
            },
        ];
        let args = ffmpeg_args(&inputs, 20.0, Path::new("out.webm"));
        let graph = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
        assert!(
            graph.contains("[0:v]setpts=PTS-STARTPTS+2.500/TB"),
            "{graph}"
        );
        assert!(graph.contains("[1:a]aresample=48000:async=1:first_pts=0,adelay=1250|1250[a0]"));
        assert!(args.ends_with(&["webm".to_string(), "out.webm".to_string()]));
        let silent = ffmpeg_args(&[], 5.0, Path::new("o.webm"));
        let graph = &silent[silent.iter().position(|a| a == "-filter_complex").unwrap() + 1];
        assert!(
            graph.contains("anullsrc") && graph.contains("[base0]"),
            "{graph}"
        );
    }
}
