"""Every word the kiosk shows or speaks, by key: the zh-CN text (Qt's source text) and English.

The screens look a key up, then pass the zh-CN text through Qt's translator (context
``hall``): with no translator loaded the citizen reads Chinese; with ``hall_en.qm`` loaded,
English. ``kiosk/hall/i18n/hall_en.ts`` is generated from this table (``python -m
kiosk.hall.i18n.build``) and compiled to ``hall_en.qm`` with pyside6-lrelease; a test checks the
compiled file against this table. Words are plain and short: the citizen is not technical.
"""

from __future__ import annotations

CONTEXT = "hall"

TEXTS: dict[str, tuple[str, str]] = {
    # titles of the steps
    "title.attract": ("欢迎使用自助服务", "Welcome to self-service"),
    "title.document": ("请放置证件", "Your ID document"),
    "title.reading": ("正在读取证件", "Reading your card"),
    "title.face": ("刷脸核验身份", "Face check"),
    "title.face_failed": ("没有核验成功", "Not recognised yet"),
    "title.fingerprint": ("指纹核验身份", "Fingerprint check"),
    "title.menu": ("请选择要办理的事项", "What would you like to do?"),
    "title.proof_confirm": ("请确认打印内容", "Please check before printing"),
    "title.printing": ("正在打印", "Printing"),
    "title.print_failed": ("打印没有完成", "Printing did not finish"),
    "title.progress_entry": ("查询办理进度", "Check an application"),
    "title.progress_scan": ("扫描受理单二维码", "Scan the QR code"),
    "title.progress_result": ("办理进度", "Application progress"),
    "title.guide_list": ("办事指南", "Service guide"),
    "title.guide_detail": ("办事指南", "Service guide"),
    "title.rate": ("请为本次服务评价", "How was our service?"),
    "title.goodbye": ("办理完成，谢谢！", "All done, thank you!"),
    "title.error": ("暂时无法办理", "We cannot do this right now"),
    "title.busy": ("请稍候", "One moment please"),
    "title.maintenance_pin": ("工作人员维护", "Staff maintenance"),
    "title.maintenance": ("设备状态", "Device status"),
    # what to do now (spoken)
    "prompt.start": (
        "请将身份证放在读卡区，或轻触屏幕开始",
        "Place your ID card on the reader, or touch the screen to start",
    ),
    "prompt.place_card": ("请将身份证放在下方读卡区", "Place your ID card on the reader below"),
    "prompt.insert_ss_card": (
        "请将社保卡插入卡口",
        "Insert your social-security card into the slot",
    ),
    "prompt.reading": ("请不要拿走证件", "Please leave your card on the reader"),
    "face.look": ("请正对摄像头", "Please look at the camera"),
    "face.blink": ("请眨眨眼", "Please blink"),
    "face.turn_left": ("请慢慢向左转头", "Please turn your head slowly to the left"),
    "face.turn_right": ("请慢慢向右转头", "Please turn your head slowly to the right"),
    "face.hold_still": ("请保持不动", "Please hold still"),
    "prompt.face_retry": (
        "请摘下帽子或口罩，正对摄像头再试一次",
        "Take off any hat or mask, face the camera and try again",
    ),
    "prompt.place_finger": (
        "请将手指平放在指纹采集器上",
        "Place your finger flat on the fingerprint reader",
    ),
    "prompt.pick_errand": ("轻触要办理的事项", "Touch the service you need"),
    "prompt.wait": ("请稍候", "Please wait"),
    "prompt.confirm_proof": ("核对无误后，请点“打印”", "If this is right, touch “Print”"),
    "prompt.printing": ("正在打印，请稍候", "Printing, please wait"),
    "prompt.print_failed": (
        "请联系工作人员，或稍后重试",
        "Please ask a member of staff, or try again",
    ),
    "prompt.type_number": (
        "请输入受理单上的编号，或扫描二维码",
        "Type the number on your receipt, or scan its QR code",
    ),
    "prompt.show_qr": (
        "请将受理单上的二维码对准摄像头",
        "Hold the QR code on your receipt up to the camera",
    ),
    "prompt.pick_guide": ("轻触事项，查看需要的材料", "Touch a service to see what to bring"),
    "prompt.rate": ("请轻触星级评价", "Touch the stars to rate us"),
    "prompt.take_card": ("请取走您的证件", "Please take your card"),
    "prompt.take_card_receipt": (
        "请取走您的证件和打印的证明",
        "Please take your card and your printed proof",
    ),
    "prompt.staff_pin": ("请输入工作人员密码", "Enter the staff PIN"),
    # why (messages)
    "face.fail.no_face": ("没有看到您的脸", "We could not see your face"),
    "face.fail.not_live": (
        "请本人直接面对摄像头，不能使用照片或视频",
        "Please face the camera yourself; photos and videos cannot be used",
    ),
    "face.fail.mismatch": ("与证件照片不一致", "It does not match the photo on the card"),
    "face.fail.timeout": ("时间到了，没有完成核验", "Time ran out before the check finished"),
    "face.fail.camera_fault": ("摄像头暂时不能使用", "The camera is not working right now"),
    "face.fail.ok": ("请再试一次", "Please try again"),
    "finger.no_finger": ("没有检测到手指，请再试一次", "No finger was felt; please try again"),
    "finger.mismatch": ("指纹与证件不一致", "The fingerprint does not match the card"),
    "finger.fault": (
        "指纹采集器出了问题，请联系工作人员",
        "The fingerprint reader has a problem; please ask staff",
    ),
    "finger.unavailable": (
        "指纹采集器暂时不能使用，请联系工作人员",
        "The fingerprint reader is not available; please ask staff",
    ),
    "error.backend_down": (
        "服务暂时连接不上，请稍后再试或联系工作人员",
        "The service cannot be reached; please try later or ask staff",
    ),
    "error.device": (
        "设备暂时不能使用，请联系工作人员",
        "A device is not working; please ask staff",
    ),
    "error.unexpected": ("出了点问题，请重新开始", "Something went wrong; please start again"),
    "error.card_read": (
        "证件没有读取成功，请取走证件后重新放置",
        "We could not read your card; take it away and place it again",
    ),
    "error.card_no_photo": (
        "这张卡不能用于刷脸，请改用身份证",
        "This card cannot be used for a face check; please use your ID card",
    ),
    "error.no_fallback": (
        "无法核验身份，请改用身份证或联系工作人员",
        "We cannot check your identity; please use your ID card or ask staff",
    ),
    "error.proof_refused": (
        "暂时无法开具此证明，请咨询工作人员",
        "This proof cannot be issued here; please ask staff",
    ),
    "printer.paper_out": (
        "打印机缺纸，证明已保存，装纸后可重新打印",
        "The printer is out of paper; your proof is kept and can be printed again",
    ),
    "printer.cover_open": ("打印机盖子没有关好", "The printer cover is open"),
    "printer.fault": ("打印机暂时不能使用", "The printer is not working right now"),
    "progress.not_found": (
        "没有找到这个编号，请核对后重新输入",
        "No application has this number; please check it",
    ),
    "progress.bad_number": (
        "编号格式不对，请核对后重新输入",
        "That number is not valid; please check it",
    ),
    "progress.no_qr": (
        "没有扫到二维码，请再试一次或手动输入",
        "No QR code was seen; try again or type the number",
    ),
    "progress.bad_qr": (
        "这个二维码不是受理单二维码",
        "This QR code is not from an application receipt",
    ),
    "progress.camera_fault": (
        "摄像头暂时不能使用，请手动输入",
        "The camera is not working; please type the number",
    ),
    "maintenance.disabled": ("未设置工作人员密码", "No staff PIN is set on this kiosk"),
    "maintenance.bad_pin": ("密码不正确", "Wrong PIN"),
    "maintenance.agent_down": ("连接不上设备服务", "The device service cannot be reached"),
    "notice.card_removed": (
        "证件已取走，本次办理已结束，您的信息已清除",
        "Your card was taken away: the visit has ended and your details are cleared",
    ),
    "notice.timed_out": (
        "长时间没有操作，本次办理已结束，您的信息已清除",
        "No one was using the kiosk: the visit has ended and your details are cleared",
    ),
    "notice.devices_down": (
        "读卡设备暂时不能使用，请联系工作人员",
        "The card reader is not available right now; please ask staff",
    ),
    # buttons
    "action.start": ("开始办理", "Start"),
    "action.use_ss_card": ("改用社保卡", "Use social-security card"),
    "action.use_id_card": ("改用身份证", "Use ID card"),
    "action.finish": ("结束办理", "Finish"),
    "action.retry": ("再试一次", "Try again"),
    "action.menu": ("返回事项列表", "Back to services"),
    "action.guide": ("办事指南", "Service guide"),
    "action.guide_back": ("看其他事项的指南", "Other services' guides"),
    "action.print": ("打印", "Print"),
    "action.scan": ("扫描二维码", "Scan QR code"),
    "action.cancel_scan": ("手动输入", "Type instead"),
    "action.done": ("完成", "Done"),
    "action.skip": ("跳过", "Skip"),
    "action.another": ("继续办理其他事项", "Another service"),
    "action.submit": ("确定", "OK"),
    "action.submit_rating": ("提交评价", "Send rating"),
    "action.more_time": ("我还需要时间", "I need more time"),
    "action.close": ("关闭", "Close"),
    "action.refresh": ("刷新", "Refresh"),
    "action.backspace": ("删除", "Delete"),
    "action.clear": ("清空", "Clear"),
    "action.lang": ("English", "中文"),
    "action.elder_on": ("大字模式", "Large text"),
    "action.elder_off": ("标准字体", "Normal text"),
    "action.maintenance": ("维护", "Staff"),
    # labels
    "label.hello": ("您好，{name}", "Hello, {name}"),
    "label.name": ("姓名", "Name"),
    "label.id_number": ("证件号码", "ID number"),
    "label.proof": ("证明", "Proof"),
    "label.materials": ("需要带的材料", "What to bring"),
    "label.where": ("办理地点", "Where"),
    "label.fees": ("费用", "Fees"),
    "label.status": ("当前状态", "Status"),
    "label.errand": ("办理事项", "Service"),
    "label.number": ("编号", "Number"),
    "label.attempt": ("第 {n} 次，共 {m} 次", "Try {n} of {m}"),
    "label.countdown": (
        "{n} 秒后将结束本次办理并清除您的信息",
        "In {n} seconds this visit ends and your details are cleared",
    ),
    "label.privacy": (
        "您的信息只用于本次办理，离开后自动清除",
        "Your details are used for this visit only and cleared when you leave",
    ),
    "label.kind.proof": ("证明打印", "Print a proof"),
    "label.kind.progress": ("进度查询", "Check progress"),
    "label.kind.guide": ("办事指南", "Service guide"),
    "label.level": ("{n} 星", "{n} stars"),
    "label.driver_state": ("{name}：{state}", "{name}: {state}"),
    "label.connected": ("与中心连接：{state}", "Link to the centre: {state}"),
    "label.yes": ("正常", "OK"),
    "label.no": ("断开", "down"),
    "label.document.resident_id": ("居民身份证", "Resident ID card"),
    "label.document.social_security": ("社会保障卡", "Social-security card"),
    "label.verified.face": ("已通过刷脸核验", "Checked by face"),
    "label.verified.fingerprint": ("已通过指纹核验", "Checked by fingerprint"),
    "label.qr_hint": (
        "证明上的二维码可在任意地点扫码核验真伪",
        "Anyone can check the proof by scanning its QR code",
    ),
    "label.speech_off": ("语音播报不可用", "Spoken prompts unavailable"),
}


def source(key: str) -> str:
    """The zh-CN text of ``key`` (the key itself if unknown, so a gap shows and never crashes)."""
    entry = TEXTS.get(key)
    return entry[0] if entry else key
