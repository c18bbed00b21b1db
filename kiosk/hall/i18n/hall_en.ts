<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_US" sourcelanguage="zh_CN">
  <context>
    <name>hall</name>
    <message>
      <source>欢迎使用自助服务</source>
      <comment>title.attract</comment>
      <translation>Welcome to self-service</translation>
    </message>
    <message>
      <source>请放置证件</source>
      <comment>title.document</comment>
      <translation>Your ID document</translation>
    </message>
    <message>
      <source>正在读取证件</source>
      <comment>title.reading</comment>
      <translation>Reading your card</translation>
    </message>
    <message>
      <source>刷脸核验身份</source>
      <comment>title.face</comment>
      <translation>Face check</translation>
    </message>
    <message>
      <source>没有核验成功</source>
      <comment>title.face_failed</comment>
      <translation>Not recognised yet</translation>
    </message>
    <message>
      <source>指纹核验身份</source>
      <comment>title.fingerprint</comment>
      <translation>Fingerprint check</translation>
    </message>
    <message>
      <source>请选择要办理的事项</source>
      <comment>title.menu</comment>
      <translation>What would you like to do?</translation>
    </message>
    <message>
      <source>请确认打印内容</source>
      <comment>title.proof_confirm</comment>
      <translation>Please check before printing</translation>
    </message>
    <message>
      <source>正在打印</source>
      <comment>title.printing</comment>
      <translation>Printing</translation>
    </message>
    <message>
      <source>打印没有完成</source>
      <comment>title.print_failed</comment>
      <translation>Printing did not finish</translation>
    </message>
    <message>
      <source>查询办理进度</source>
      <comment>title.progress_entry</comment>
      <translation>Check an application</translation>
    </message>
    <message>
      <source>扫描受理单二维码</source>
      <comment>title.progress_scan</comment>
      <translation>Scan the QR code</translation>
    </message>
    <message>
      <source>办理进度</source>
      <comment>title.progress_result</comment>
      <translation>Application progress</translation>
    </message>
    <message>
      <source>办事指南</source>
      <comment>title.guide_list</comment>
      <translation>Service guide</translation>
    </message>
    <message>
      <source>办事指南</source>
      <comment>title.guide_detail</comment>
      <translation>Service guide</translation>
    </message>
    <message>
      <source>请为本次服务评价</source>
      <comment>title.rate</comment>
      <translation>How was our service?</translation>
    </message>
    <message>
      <source>办理完成，谢谢！</source>
      <comment>title.goodbye</comment>
      <translation>All done, thank you!</translation>
    </message>
    <message>
      <source>暂时无法办理</source>
      <comment>title.error</comment>
      <translation>We cannot do this right now</translation>
    </message>
    <message>
      <source>请稍候</source>
      <comment>title.busy</comment>
      <translation>One moment please</translation>
    </message>
    <message>
      <source>工作人员维护</source>
      <comment>title.maintenance_pin</comment>
      <translation>Staff maintenance</translation>
    </message>
    <message>
      <source>设备状态</source>
      <comment>title.maintenance</comment>
      <translation>Device status</translation>
    </message>
    <message>
      <source>请将身份证放在读卡区，或轻触屏幕开始</source>
      <comment>prompt.start</comment>
      <translation>Place your ID card on the reader, or touch the screen to start</translation>
    </message>
    <message>
      <source>请将身份证放在下方读卡区</source>
      <comment>prompt.place_card</comment>
      <translation>Place your ID card on the reader below</translation>
    </message>
    <message>
      <source>请将社保卡插入卡口</source>
      <comment>prompt.insert_ss_card</comment>
      <translation>Insert your social-security card into the slot</translation>
    </message>
    <message>
      <source>请不要拿走证件</source>
      <comment>prompt.reading</comment>
      <translation>Please leave your card on the reader</translation>
    </message>
    <message>
      <source>请正对摄像头</source>
      <comment>face.look</comment>
      <translation>Please look at the camera</translation>
    </message>
    <message>
      <source>请眨眨眼</source>
      <comment>face.blink</comment>
      <translation>Please blink</translation>
    </message>
    <message>
      <source>请慢慢向左转头</source>
      <comment>face.turn_left</comment>
      <translation>Please turn your head slowly to the left</translation>
    </message>
    <message>
      <source>请慢慢向右转头</source>
      <comment>face.turn_right</comment>
      <translation>Please turn your head slowly to the right</translation>
    </message>
    <message>
      <source>请保持不动</source>
      <comment>face.hold_still</comment>
      <translation>Please hold still</translation>
    </message>
    <message>
      <source>请摘下帽子或口罩，正对摄像头再试一次</source>
      <comment>prompt.face_retry</comment>
      <translation>Take off any hat or mask, face the camera and try again</translation>
    </message>
    <message>
      <source>请将手指平放在指纹采集器上</source>
      <comment>prompt.place_finger</comment>
      <translation>Place your finger flat on the fingerprint reader</translation>
    </message>
    <message>
      <source>轻触要办理的事项</source>
      <comment>prompt.pick_errand</comment>
      <translation>Touch the service you need</translation>
    </message>
    <message>
      <source>请稍候</source>
      <comment>prompt.wait</comment>
      <translation>Please wait</translation>
    </message>
    <message>
      <source>核对无误后，请点“打印”</source>
      <comment>prompt.confirm_proof</comment>
      <translation>If this is right, touch “Print”</translation>
    </message>
    <message>
      <source>正在打印，请稍候</source>
      <comment>prompt.printing</comment>
      <translation>Printing, please wait</translation>
    </message>
    <message>
      <source>请联系工作人员，或稍后重试</source>
      <comment>prompt.print_failed</comment>
      <translation>Please ask a member of staff, or try again</translation>
    </message>
    <message>
      <source>请输入受理单上的编号，或扫描二维码</source>
      <comment>prompt.type_number</comment>
      <translation>Type the number on your receipt, or scan its QR code</translation>
    </message>
    <message>
      <source>请将受理单上的二维码对准摄像头</source>
      <comment>prompt.show_qr</comment>
      <translation>Hold the QR code on your receipt up to the camera</translation>
    </message>
    <message>
      <source>轻触事项，查看需要的材料</source>
      <comment>prompt.pick_guide</comment>
      <translation>Touch a service to see what to bring</translation>
    </message>
    <message>
      <source>请轻触星级评价</source>
      <comment>prompt.rate</comment>
      <translation>Touch the stars to rate us</translation>
    </message>
    <message>
      <source>请取走您的证件</source>
      <comment>prompt.take_card</comment>
      <translation>Please take your card</translation>
    </message>
    <message>
      <source>请取走您的证件和打印的证明</source>
      <comment>prompt.take_card_receipt</comment>
      <translation>Please take your card and your printed proof</translation>
    </message>
    <message>
      <source>请输入工作人员密码</source>
      <comment>prompt.staff_pin</comment>
      <translation>Enter the staff PIN</translation>
    </message>
    <message>
      <source>没有看到您的脸</source>
      <comment>face.fail.no_face</comment>
      <translation>We could not see your face</translation>
    </message>
    <message>
      <source>请本人直接面对摄像头，不能使用照片或视频</source>
      <comment>face.fail.not_live</comment>
      <translation>Please face the camera yourself; photos and videos cannot be used</translation>
    </message>
    <message>
      <source>与证件照片不一致</source>
      <comment>face.fail.mismatch</comment>
      <translation>It does not match the photo on the card</translation>
    </message>
    <message>
      <source>时间到了，没有完成核验</source>
      <comment>face.fail.timeout</comment>
      <translation>Time ran out before the check finished</translation>
    </message>
    <message>
      <source>摄像头暂时不能使用</source>
      <comment>face.fail.camera_fault</comment>
      <translation>The camera is not working right now</translation>
    </message>
    <message>
      <source>请再试一次</source>
      <comment>face.fail.ok</comment>
      <translation>Please try again</translation>
    </message>
    <message>
      <source>没有检测到手指，请再试一次</source>
      <comment>finger.no_finger</comment>
      <translation>No finger was felt; please try again</translation>
    </message>
    <message>
      <source>指纹与证件不一致</source>
      <comment>finger.mismatch</comment>
      <translation>The fingerprint does not match the card</translation>
    </message>
    <message>
      <source>指纹采集器出了问题，请联系工作人员</source>
      <comment>finger.fault</comment>
      <translation>The fingerprint reader has a problem; please ask staff</translation>
    </message>
    <message>
      <source>指纹采集器暂时不能使用，请联系工作人员</source>
      <comment>finger.unavailable</comment>
      <translation>The fingerprint reader is not available; please ask staff</translation>
    </message>
    <message>
      <source>服务暂时连接不上，请稍后再试或联系工作人员</source>
      <comment>error.backend_down</comment>
      <translation>The service cannot be reached; please try later or ask staff</translation>
    </message>
    <message>
      <source>设备暂时不能使用，请联系工作人员</source>
      <comment>error.device</comment>
      <translation>A device is not working; please ask staff</translation>
    </message>
    <message>
      <source>出了点问题，请重新开始</source>
      <comment>error.unexpected</comment>
      <translation>Something went wrong; please start again</translation>
    </message>
    <message>
      <source>证件没有读取成功，请取走证件后重新放置</source>
      <comment>error.card_read</comment>
      <translation>We could not read your card; take it away and place it again</translation>
    </message>
    <message>
      <source>这张卡不能用于刷脸，请改用身份证</source>
      <comment>error.card_no_photo</comment>
      <translation>This card cannot be used for a face check; please use your ID card</translation>
    </message>
    <message>
      <source>无法核验身份，请改用身份证或联系工作人员</source>
      <comment>error.no_fallback</comment>
      <translation>We cannot check your identity; please use your ID card or ask staff</translation>
    </message>
    <message>
      <source>暂时无法开具此证明，请咨询工作人员</source>
      <comment>error.proof_refused</comment>
      <translation>This proof cannot be issued here; please ask staff</translation>
    </message>
    <message>
      <source>打印机缺纸，证明已保存，装纸后可重新打印</source>
      <comment>printer.paper_out</comment>
      <translation>The printer is out of paper; your proof is kept and can be printed again</translation>
    </message>
    <message>
      <source>打印机盖子没有关好</source>
      <comment>printer.cover_open</comment>
      <translation>The printer cover is open</translation>
    </message>
    <message>
      <source>打印机暂时不能使用</source>
      <comment>printer.fault</comment>
      <translation>The printer is not working right now</translation>
    </message>
    <message>
      <source>没有找到这个编号，请核对后重新输入</source>
      <comment>progress.not_found</comment>
      <translation>No application has this number; please check it</translation>
    </message>
    <message>
      <source>编号格式不对，请核对后重新输入</source>
      <comment>progress.bad_number</comment>
      <translation>That number is not valid; please check it</translation>
    </message>
    <message>
      <source>没有扫到二维码，请再试一次或手动输入</source>
      <comment>progress.no_qr</comment>
      <translation>No QR code was seen; try again or type the number</translation>
    </message>
    <message>
      <source>这个二维码不是受理单二维码</source>
      <comment>progress.bad_qr</comment>
      <translation>This QR code is not from an application receipt</translation>
    </message>
    <message>
      <source>摄像头暂时不能使用，请手动输入</source>
      <comment>progress.camera_fault</comment>
      <translation>The camera is not working; please type the number</translation>
    </message>
    <message>
      <source>未设置工作人员密码</source>
      <comment>maintenance.disabled</comment>
      <translation>No staff PIN is set on this kiosk</translation>
    </message>
    <message>
      <source>密码不正确</source>
      <comment>maintenance.bad_pin</comment>
      <translation>Wrong PIN</translation>
    </message>
    <message>
      <source>连接不上设备服务</source>
      <comment>maintenance.agent_down</comment>
      <translation>The device service cannot be reached</translation>
    </message>
    <message>
      <source>证件已取走，本次办理已结束，您的信息已清除</source>
      <comment>notice.card_removed</comment>
      <translation>Your card was taken away: the visit has ended and your details are cleared</translation>
    </message>
    <message>
      <source>长时间没有操作，本次办理已结束，您的信息已清除</source>
      <comment>notice.timed_out</comment>
      <translation>No one was using the kiosk: the visit has ended and your details are cleared</translation>
    </message>
    <message>
      <source>读卡设备暂时不能使用，请联系工作人员</source>
      <comment>notice.devices_down</comment>
      <translation>The card reader is not available right now; please ask staff</translation>
    </message>
    <message>
      <source>开始办理</source>
      <comment>action.start</comment>
      <translation>Start</translation>
    </message>
    <message>
      <source>改用社保卡</source>
      <comment>action.use_ss_card</comment>
      <translation>Use social-security card</translation>
    </message>
    <message>
      <source>改用身份证</source>
      <comment>action.use_id_card</comment>
      <translation>Use ID card</translation>
    </message>
    <message>
      <source>结束办理</source>
      <comment>action.finish</comment>
      <translation>Finish</translation>
    </message>
    <message>
      <source>再试一次</source>
      <comment>action.retry</comment>
      <translation>Try again</translation>
    </message>
    <message>
      <source>返回事项列表</source>
      <comment>action.menu</comment>
      <translation>Back to services</translation>
    </message>
    <message>
      <source>办事指南</source>
      <comment>action.guide</comment>
      <translation>Service guide</translation>
    </message>
    <message>
      <source>看其他事项的指南</source>
      <comment>action.guide_back</comment>
      <translation>Other services' guides</translation>
    </message>
    <message>
      <source>打印</source>
      <comment>action.print</comment>
      <translation>Print</translation>
    </message>
    <message>
      <source>扫描二维码</source>
      <comment>action.scan</comment>
      <translation>Scan QR code</translation>
    </message>
    <message>
      <source>手动输入</source>
      <comment>action.cancel_scan</comment>
      <translation>Type instead</translation>
    </message>
    <message>
      <source>完成</source>
      <comment>action.done</comment>
      <translation>Done</translation>
    </message>
    <message>
      <source>跳过</source>
      <comment>action.skip</comment>
      <translation>Skip</translation>
    </message>
    <message>
      <source>继续办理其他事项</source>
      <comment>action.another</comment>
      <translation>Another service</translation>
    </message>
    <message>
      <source>确定</source>
      <comment>action.submit</comment>
      <translation>OK</translation>
    </message>
    <message>
      <source>提交评价</source>
      <comment>action.submit_rating</comment>
      <translation>Send rating</translation>
    </message>
    <message>
      <source>我还需要时间</source>
      <comment>action.more_time</comment>
      <translation>I need more time</translation>
    </message>
    <message>
      <source>关闭</source>
      <comment>action.close</comment>
      <translation>Close</translation>
    </message>
    <message>
      <source>刷新</source>
      <comment>action.refresh</comment>
      <translation>Refresh</translation>
    </message>
    <message>
      <source>删除</source>
      <comment>action.backspace</comment>
      <translation>Delete</translation>
    </message>
    <message>
      <source>清空</source>
      <comment>action.clear</comment>
      <translation>Clear</translation>
    </message>
    <message>
      <source>English</source>
      <comment>action.lang</comment>
      <translation>中文</translation>
    </message>
    <message>
      <source>大字模式</source>
      <comment>action.elder_on</comment>
      <translation>Large text</translation>
    </message>
    <message>
      <source>标准字体</source>
      <comment>action.elder_off</comment>
      <translation>Normal text</translation>
    </message>
    <message>
      <source>维护</source>
      <comment>action.maintenance</comment>
      <translation>Staff</translation>
    </message>
    <message>
      <source>您好，{name}</source>
      <comment>label.hello</comment>
      <translation>Hello, {name}</translation>
    </message>
    <message>
      <source>姓名</source>
      <comment>label.name</comment>
      <translation>Name</translation>
    </message>
    <message>
      <source>证件号码</source>
      <comment>label.id_number</comment>
      <translation>ID number</translation>
    </message>
    <message>
      <source>证明</source>
      <comment>label.proof</comment>
      <translation>Proof</translation>
    </message>
    <message>
      <source>需要带的材料</source>
      <comment>label.materials</comment>
      <translation>What to bring</translation>
    </message>
    <message>
      <source>办理地点</source>
      <comment>label.where</comment>
      <translation>Where</translation>
    </message>
    <message>
      <source>费用</source>
      <comment>label.fees</comment>
      <translation>Fees</translation>
    </message>
    <message>
      <source>当前状态</source>
      <comment>label.status</comment>
      <translation>Status</translation>
    </message>
    <message>
      <source>办理事项</source>
      <comment>label.errand</comment>
      <translation>Service</translation>
    </message>
    <message>
      <source>编号</source>
      <comment>label.number</comment>
      <translation>Number</translation>
    </message>
    <message>
      <source>第 {n} 次，共 {m} 次</source>
      <comment>label.attempt</comment>
      <translation>Try {n} of {m}</translation>
    </message>
    <message>
      <source>{n} 秒后将结束本次办理并清除您的信息</source>
      <comment>label.countdown</comment>
      <translation>In {n} seconds this visit ends and your details are cleared</translation>
    </message>
    <message>
      <source>您的信息只用于本次办理，离开后自动清除</source>
      <comment>label.privacy</comment>
      <translation>Your details are used for this visit only and cleared when you leave</translation>
    </message>
    <message>
      <source>证明打印</source>
      <comment>label.kind.proof</comment>
      <translation>Print a proof</translation>
    </message>
    <message>
      <source>进度查询</source>
      <comment>label.kind.progress</comment>
      <translation>Check progress</translation>
    </message>
    <message>
      <source>办事指南</source>
      <comment>label.kind.guide</comment>
      <translation>Service guide</translation>
    </message>
    <message>
      <source>{n} 星</source>
      <comment>label.level</comment>
      <translation>{n} stars</translation>
    </message>
    <message>
      <source>{name}：{state}</source>
      <comment>label.driver_state</comment>
      <translation>{name}: {state}</translation>
    </message>
    <message>
      <source>与中心连接：{state}</source>
      <comment>label.connected</comment>
      <translation>Link to the centre: {state}</translation>
    </message>
    <message>
      <source>正常</source>
      <comment>label.yes</comment>
      <translation>OK</translation>
    </message>
    <message>
      <source>断开</source>
      <comment>label.no</comment>
      <translation>down</translation>
    </message>
    <message>
      <source>居民身份证</source>
      <comment>label.document.resident_id</comment>
      <translation>Resident ID card</translation>
    </message>
    <message>
      <source>社会保障卡</source>
      <comment>label.document.social_security</comment>
      <translation>Social-security card</translation>
    </message>
    <message>
      <source>已通过刷脸核验</source>
      <comment>label.verified.face</comment>
      <translation>Checked by face</translation>
    </message>
    <message>
      <source>已通过指纹核验</source>
      <comment>label.verified.fingerprint</comment>
      <translation>Checked by fingerprint</translation>
    </message>
    <message>
      <source>证明上的二维码可在任意地点扫码核验真伪</source>
      <comment>label.qr_hint</comment>
      <translation>Anyone can check the proof by scanning its QR code</translation>
    </message>
    <message>
      <source>语音播报不可用</source>
      <comment>label.speech_off</comment>
      <translation>Spoken prompts unavailable</translation>
    </message>
  </context>
</TS>
